// The search_path the session routes with after a SET/RESET search_path it relayed (src/session/search-path.ts).
import { describe, expect, it } from 'vitest';
import { searchPathAfter } from '../../src/session/search-path.js';

describe('searchPathAfter', () => {
  const dflt = ['public'];
  it('reads identifiers (folded), quoted identifiers and string literals; drops "$user"', () => {
    expect(searchPathAfter('other', dflt, dflt)).toEqual(['other']);
    expect(searchPathAfter('Other, PUBLIC', dflt, dflt)).toEqual(['other', 'public']);
    expect(searchPathAfter('"Other", public', dflt, dflt)).toEqual(['Other', 'public']);
    expect(searchPathAfter("'my schema'", dflt, dflt)).toEqual(['my schema']);
    expect(searchPathAfter('"$user", public', dflt, dflt)).toEqual(['public']);
    expect(searchPathAfter('"a""b"', dflt, dflt)).toEqual(['a"b']);
    expect(searchPathAfter("''", dflt, dflt)).toEqual([]);
  });
  it('RESET and DEFAULT give the session\'s default path back', () => {
    expect(searchPathAfter(undefined, ['s1', 'public'], ['x'])).toEqual(['s1', 'public']);
    expect(searchPathAfter('DEFAULT', ['s1'], ['x'])).toEqual(['s1']);
  });
  it('a value it does not understand keeps the current path (the round trip tells)', () => {
    expect(searchPathAfter('"unterminated', dflt, ['x'])).toEqual(['x']);
  });
});
