import { requestKind } from './s3-layer';

describe('request kinds, as S3 prices them (the benchmark counts requests per object by them)', () => {
  it.each([
    ['GET', {}, false, 'LIST'],
    ['GET', {}, true, 'GET'],
    ['HEAD', {}, true, 'HEAD'],
    ['PUT', {}, true, 'PUT'],
    ['PUT', { 'x-amz-copy-source': '/src/a.jpg' }, true, 'COPY'],
    ['POST', {}, true, 'POST'],
    ['DELETE', {}, true, 'DELETE'],
  ])('%s %j on an object: %s → %s', (method, headers, onObject, kind) => {
    expect(requestKind({ method, headers }, onObject)).toBe(kind);
  });
});
