/** The project targets Node 22 LTS and brings it itself: tests must not silently run on the machine's Node 20. */
describe('runtime', () => {
  it('runs on Node 22 from the project (node devDependency), not the system Node', () => {
    expect(Number(process.versions.node.split('.')[0])).toBe(22);
    expect(process.execPath).toContain('node_modules');
  });
});
