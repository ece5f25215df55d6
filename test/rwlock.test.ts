// The store's read/write lock: readers share it, a writer holds it alone
// across its awaits, waiting writers go before later readers, and a free
// lock runs a synchronous operation and is free again when read/write return.
import t from 'tap';
import { RwLock } from '../src/store/rwlock.js';

/** A promise with its resolve, to hold an operation open until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

t.test('a free lock runs a synchronous operation at once and is free when write returns', async (t) => {
  const lock = new RwLock();
  const order: string[] = [];
  const first = lock.write(() => {
    order.push('write 1');
    return 1;
  });
  // Not queued behind the first: the first gave the lock back before write returned.
  const second = lock.write(() => {
    order.push('write 2');
    return 2;
  });
  t.strictSame(order, ['write 1', 'write 2'], 'both ran before either promise settled');
  t.equal(await first, 1);
  t.equal(await second, 2);
});

t.test('a synchronous throw rejects and frees the lock', async (t) => {
  const lock = new RwLock();
  await t.rejects(lock.write(() => {
    throw new Error('refused');
  }), /refused/);
  await t.rejects(lock.read(() => {
    throw new Error('read refused');
  }), /read refused/);
  t.equal(await lock.write(() => 'free'), 'free', 'the lock was given back');
});

t.test('a writer holds the lock across its awaits; readers and writers wait their turn', async (t) => {
  const lock = new RwLock();
  const order: string[] = [];
  const held = gate();
  const writer = lock.write(async () => {
    order.push('writer starts');
    await held.promise;
    order.push('writer ends');
    return 'w';
  });
  const reader = lock.read(() => {
    order.push('reader');
    return 'r';
  });
  const writer2 = lock.write(() => {
    order.push('writer 2');
    return 'w2';
  });
  await Promise.resolve();
  t.strictSame(order, ['writer starts'], 'nothing ran while the writer held the lock');
  held.open();
  t.strictSame(await Promise.all([writer, reader, writer2]), ['w', 'r', 'w2']);
  t.strictSame(order, ['writer starts', 'writer ends', 'reader', 'writer 2'], 'queued in arrival order');
});

t.test('readers share the lock; a waiting writer goes before readers that come after it', async (t) => {
  const lock = new RwLock();
  const order: string[] = [];
  const firstRead = gate();
  const secondRead = gate();
  const r1 = lock.read(async () => {
    order.push('r1 starts');
    await firstRead.promise;
    order.push('r1 ends');
  });
  const r2 = lock.read(async () => {
    order.push('r2 starts');
    await secondRead.promise;
    order.push('r2 ends');
  });
  t.strictSame(order, ['r1 starts', 'r2 starts'], 'two readers at once');
  const w = lock.write(() => void order.push('writer'));
  const r3 = lock.read(() => void order.push('r3'));
  firstRead.open();
  await r1;
  t.notOk(order.includes('writer'), 'the writer waits for every reader');
  secondRead.open();
  await Promise.all([r2, w, r3]);
  t.strictSame(order, ['r1 starts', 'r2 starts', 'r1 ends', 'r2 ends', 'writer', 'r3'], 'r3 came after the waiting writer and ran after it');
});

t.test('an operation that rejects after an await frees the lock for the next', async (t) => {
  const lock = new RwLock();
  const failing = lock.write(async () => {
    await Promise.resolve();
    throw new Error('late failure');
  });
  const next = lock.write(() => 'next');
  await t.rejects(failing, /late failure/);
  t.equal(await next, 'next');
});
