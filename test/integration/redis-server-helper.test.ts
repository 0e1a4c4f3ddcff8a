import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedis } from '../helpers/redis-server.js'

describe('startRedis (managed)', () => {
  let redis: RedisServer

  beforeAll(async () => {
    redis = await startRedis({ control: true })
  })

  afterAll(async () => {
    await redis?.stop()
  })

  it('answers PING on a loopback port', async () => {
    expect(redis.host).toBe('127.0.0.1')
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`)
    expect(redis.pid).toBeTypeOf('number')
    expect(await redis.ping()).toBe(true)
  })

  it('runs raw commands', async () => {
    expect(await redis.command('SET', 'greeting', 'héllo wörld')).toBe('OK')
    expect(await redis.command('GET', 'greeting')).toBe('héllo wörld')
    expect(await redis.command('GET', 'missing')).toBeNull()
    expect(await redis.command('INCR', 'counter')).toBe('1')
    await expect(redis.command('NOSUCHCOMMAND')).rejects.toThrow(/unknown command/i)
  })

  it('freeze makes PING time out and resume brings it back', async () => {
    redis.freeze()
    const started = performance.now()
    expect(await redis.ping(150)).toBe(false)
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(140)
    expect(elapsed).toBeLessThan(1_000)

    redis.resume()
    expect(await redis.ping()).toBe(true)
  })

  it('kill takes the server down', async () => {
    expect(await redis.command('SET', 'survives', 'no')).toBe('OK')
    await redis.kill()
    expect(redis.pid).toBeUndefined()
    expect(await redis.ping(200)).toBe(false)
  })

  it('restart comes back on the same port with no data', async () => {
    const port = redis.port
    await redis.restart()
    expect(redis.port).toBe(port)
    expect(redis.pid).toBeTypeOf('number')
    expect(await redis.ping()).toBe(true)
    expect(await redis.command('GET', 'survives')).toBeNull()
    expect(await redis.command('DBSIZE')).toBe('0')
  })

  it('restart also works while the server is frozen', async () => {
    redis.freeze()
    await redis.restart()
    expect(await redis.ping()).toBe(true)
  })

  it('stop is idempotent', async () => {
    await Promise.all([redis.stop(), redis.stop()])
    await redis.stop()
    expect(redis.pid).toBeUndefined()
    expect(await redis.ping(200)).toBe(false)
  })
})

describe('startRedis (edge cases)', () => {
  it('stops a frozen server promptly', async () => {
    const redis = await startRedis({ control: true })
    try {
      redis.freeze()
      const started = performance.now()
      await redis.stop()
      expect(performance.now() - started).toBeLessThan(1_500)
      expect(await redis.ping(200)).toBe(false)
    } finally {
      await redis.stop()
    }
  })

  it('uses REDIS_URL without managing a process unless control is requested', async () => {
    const managed = await startRedis({ control: true })
    const previous = process.env.REDIS_URL
    process.env.REDIS_URL = managed.url
    try {
      const external = await startRedis()
      expect(external.url).toBe(managed.url)
      expect(external.pid).toBeUndefined()
      expect(await external.ping()).toBe(true)
      expect(() => external.freeze()).toThrow(/managed redis-server/)
      await expect(external.kill()).rejects.toThrow(/managed redis-server/)
      await external.stop()
      expect(await managed.ping()).toBe(true)
    } finally {
      if (previous === undefined) delete process.env.REDIS_URL
      else process.env.REDIS_URL = previous
      await managed.stop()
    }
  })

  it('explains how to install redis-server when the binary is missing', async () => {
    await expect(
      startRedis({ control: true, binary: 'redis-server-does-not-exist' }),
    ).rejects.toThrow('apt-get install -y redis-server')
  })

  it('explains how to install redis-server when PATH has no redis-server', async () => {
    const emptyDir = mkdtempSync(join(tmpdir(), 'layercache-no-redis-'))
    const previous = process.env.PATH
    process.env.PATH = emptyDir
    try {
      await expect(startRedis({ control: true })).rejects.toThrow(
        'redis-server not found on PATH; install it with: apt-get install -y redis-server',
      )
    } finally {
      process.env.PATH = previous
      rmSync(emptyDir, { recursive: true, force: true })
    }
  })
})
