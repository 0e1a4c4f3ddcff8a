// Decorators: a service whose reads go through the cache (@Cached), whose writes invalidate
// what they change (@InvalidateTags) or write their result through (@CachePut). TypeScript 5
// standard decorators, memory only, no setup. Run it with `npx tsx examples/decorators.ts`.
// In your application, import from 'layercache' and 'layercache/decorators' instead.
import { Cached, CachePut, InvalidateTags } from '../src/decorators/index.js'
import { createCache } from '../src/index.js'

const cache = createCache({
  namespace: 'decorators-example',
  policies: {
    dashboard: { ttl: '1m' },
    users: { ttl: '1h' },
  },
})

interface User {
  id: string
  name: string
  plan: 'free' | 'pro'
}
interface Dashboard {
  name: string
  plan: User['plan']
  widgets: number
}

// A fake database, and how many times each method of the service really ran.
const users = new Map<string, User>([
  ['42', { id: '42', name: 'Ada', plan: 'free' }],
  ['7', { id: '7', name: 'Linus', plan: 'pro' }],
])
const calls = { getDashboard: 0, search: 0, getUser: 0, updatePlan: 0, saveUser: 0 }
const counts = () =>
  Object.entries(calls)
    .map(([method, n]) => `${method}=${n}`)
    .join(' ')

class UserService {
  @Cached({
    cache,
    policy: 'dashboard',
    key: (userId: string) => `dashboard:${userId}`,
    tags: (userId: string) => [`user:${userId}`],
  })
  async getDashboard(userId: string): Promise<Dashboard> {
    calls.getDashboard++
    await new Promise((resolve) => setTimeout(resolve, 20)) // a slow query
    const { name, plan } = users.get(userId)!
    return { name, plan, widgets: plan === 'pro' ? 12 : 3 }
  }

  // No key function: the key is `UserService.search:` and a stable encoding of the arguments.
  @Cached({ cache, tags: ['user-list'] })
  async search(filter: { plan: User['plan']; limit: number }): Promise<string[]> {
    calls.search++
    return [...users.values()]
      .filter((user) => user.plan === filter.plan)
      .slice(0, filter.limit)
      .map((user) => user.name)
  }

  @Cached({
    cache,
    policy: 'users',
    key: (userId: string) => `user:${userId}`,
    tags: (userId: string) => [`user:${userId}`],
  })
  async getUser(userId: string): Promise<User | undefined> {
    calls.getUser++
    return users.get(userId)
  }

  // Commit first; the decorator invalidates once the method resolved, and not if it throws.
  @InvalidateTags({ cache, tags: (userId: string) => [`user:${userId}`, 'user-list'] })
  async updatePlan(userId: string, plan: string): Promise<void> {
    calls.updatePlan++
    if (plan !== 'free' && plan !== 'pro') throw new Error(`no plan called ${plan}`)
    users.set(userId, { ...users.get(userId)!, plan })
  }

  // Write-through: the result is stored under the key getUser reads.
  @CachePut({
    cache,
    policy: 'users',
    key: (user: User) => `user:${user.id}`,
    tags: (user: User) => [`user:${user.id}`],
  })
  async saveUser(user: User): Promise<User> {
    calls.saveUser++
    users.set(user.id, user)
    return user
  }
}

const service = new UserService()
const misses: string[] = []
cache.on('miss', ({ key }) => misses.push(key))

console.log('1. @Cached: a hit does not call the method; concurrent calls share one run')
await service.getDashboard('42')
const again = await service.getDashboard('42')
console.log(`  getDashboard('42') twice -> ${again.plan}; getDashboard ran ${calls.getDashboard}x`)
await Promise.all(Array.from({ length: 100 }, () => service.getDashboard('7')))
console.log(`  100 concurrent getDashboard('7') -> getDashboard ran ${calls.getDashboard}x in all`)

console.log('2. The default key: class, method and arguments; object key order does not matter')
misses.length = 0
await service.search({ plan: 'pro', limit: 10 })
await service.search({ limit: 10, plan: 'pro' })
console.log(`  key: ${misses[0]}`)
console.log(`  search twice, keys in another order -> search ran ${calls.search}x`)

console.log('3. @InvalidateTags: after the write, the next read runs the method again')
await service.updatePlan('42', 'pro')
const updated = await service.getDashboard('42')
console.log(`  updatePlan('42', 'pro'), then getDashboard('42') -> ${updated.plan}`)
const pros = await service.search({ plan: 'pro', limit: 10 })
console.log(
  `  getDashboard ran ${calls.getDashboard}x; search({ plan: 'pro' }) -> ${pros.join(', ')}`,
)
const error = await service.updatePlan('7', 'gold').catch((thrown: Error) => thrown.message)
await service.getDashboard('7')
console.log(`  updatePlan('7', 'gold') threw "${error}": nothing invalidated`)
console.log(`  getDashboard('7') still a hit: getDashboard ran ${calls.getDashboard}x`)

console.log('4. @CachePut: the write stores its result where the read finds it')
await service.saveUser({ id: '99', name: 'Grace', plan: 'pro' })
const saved = await service.getUser('99')
console.log(
  `  saveUser(Grace), then getUser('99') -> ${saved?.name}; getUser ran ${calls.getUser}x`,
)

console.log(`method calls: ${counts()}`)
await cache.close()
console.log('cache closed')
