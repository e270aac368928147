import { budgetBytes, imageCostBytes, MemoryBudget, minimumMemoryMiB, OverBudgetError, tooLargeForMemory } from './memory-budget';

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Acquires `weight`, recording the order of admissions under `name`. */
function request(budget: MemoryBudget, name: string, weight: number, admitted: string[]) {
  return budget.acquire(weight).then((release) => {
    admitted.push(name);
    return release;
  });
}

describe('MemoryBudget', () => {
  it('admits by weight: as many as fit at once, the next when one is given back', async () => {
    const budget = new MemoryBudget(10);
    const admitted: string[] = [];
    const a = request(budget, 'a', 4, admitted);
    const b = request(budget, 'b', 4, admitted);
    const c = request(budget, 'c', 4, admitted);
    await settle();
    expect({ admitted, used: budget.used, holders: budget.holders, waiting: budget.waiting }).toEqual({ admitted: ['a', 'b'], used: 8, holders: 2, waiting: 1 });
    (await a)();
    await settle();
    expect({ admitted, used: budget.used }).toEqual({ admitted: ['a', 'b', 'c'], used: 8 });
    (await b)();
    (await c)();
    expect({ used: budget.used, holders: budget.holders }).toEqual({ used: 0, holders: 0 });
  });

  it('many small weights run together where one large one runs alone', async () => {
    const budget = new MemoryBudget(100);
    const admitted: string[] = [];
    const small = Array.from({ length: 10 }, (_, i) => request(budget, `s${i}`, 10, admitted));
    await settle();
    expect(admitted).toHaveLength(10);
    const large = request(budget, 'L', 100, admitted);
    await settle();
    expect(admitted).toHaveLength(10);
    for (const s of small) (await s)();
    await settle();
    expect(admitted.at(-1)).toBe('L');
    (await large)();
  });

  it('is first come first served: a large request at the head is not overtaken by later small ones', async () => {
    const budget = new MemoryBudget(10);
    const admitted: string[] = [];
    const first = request(budget, 'first', 6, admitted);
    const big = request(budget, 'big', 8, admitted);
    // Each of these would fit beside `first`; none may go before `big`.
    const smalls = Array.from({ length: 5 }, (_, i) => request(budget, `small${i}`, 2, admitted));
    await settle();
    expect(admitted).toEqual(['first']);
    (await first)();
    await settle();
    expect(admitted).toEqual(['first', 'big', 'small0']);
    (await big)();
    await settle();
    expect(admitted).toEqual(['first', 'big', 'small0', 'small1', 'small2', 'small3', 'small4']);
    for (const s of smalls) (await s)();
    expect({ used: budget.used, waiting: budget.waiting }).toEqual({ used: 0, waiting: 0 });
  });

  it('refuses at once a weight larger than the whole budget, and keeps serving the others', async () => {
    const budget = new MemoryBudget(10);
    const admitted: string[] = [];
    const held = request(budget, 'held', 5, admitted);
    await expect(budget.acquire(11)).rejects.toBeInstanceOf(OverBudgetError);
    const next = request(budget, 'next', 5, admitted);
    await settle();
    expect(admitted).toEqual(['held', 'next']);
    expect(budget.fits(10)).toBe(true);
    expect(budget.fits(11)).toBe(false);
    (await held)();
    (await next)();
  });

  it('gives a weight back once, however often release is called', async () => {
    const budget = new MemoryBudget(10);
    const release = await budget.acquire(7);
    const other = await budget.acquire(3);
    release();
    release();
    expect(budget.used).toBe(3);
    other();
    expect(budget.used).toBe(0);
  });
});

describe('the resize job\'s memory budget', () => {
  const panorama = { width: 12_000, height: 8_000, bands: 3, bytesPerSample: 2 };

  it('grows with the task\'s memory and is 0 when the task is smaller than the process itself', () => {
    expect(budgetBytes(8192)).toBeGreaterThan(2 * budgetBytes(4096) - budgetBytes(512) - 1);
    expect(budgetBytes(64)).toBe(0);
  });

  it('costs an image by pixels × bands × bytes per sample, plus its compressed bytes', () => {
    const fixed = imageCostBytes({ ...panorama, width: 0 }, 0);
    const eightBit = imageCostBytes({ ...panorama, bytesPerSample: 1 }, 0) - fixed;
    expect(imageCostBytes(panorama, 0) - fixed).toBe(2 * eightBit);
    expect(imageCostBytes({ ...panorama, decodedCopies: 2 }, 0) - fixed).toBe(4 * eightBit);
    expect(imageCostBytes(panorama, 1000)).toBe(imageCostBytes(panorama, 0) + 1000);
  });

  it('says in one sentence how large the image is and which setting to raise, to a value that admits it', () => {
    const cost = imageCostBytes(panorama, 50 * 2 ** 20);
    const text = tooLargeForMemory(panorama, cost, 1024);
    expect(text).toMatch(/^12000×8000 \(96\.0 MP, 3 bands of 16 bits\) needs about [\d,]+ MiB to render, more than the [\d,]+ MiB this job may use for images with 1,024 MiB of memory: raise compute\.resize\.memoryMiB to at least [\d,]+ /);
    expect(text).not.toMatch(/\n/);
    expect(budgetBytes(minimumMemoryMiB(cost))).toBeGreaterThanOrEqual(cost);
    expect(budgetBytes(minimumMemoryMiB(cost) - 1)).toBeLessThan(cost);
  });
});
