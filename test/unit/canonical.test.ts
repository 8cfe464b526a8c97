import canonicalizeModule from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonOmitting, omitTree } from '../../src/events/canonical.js';
import { omitPaths } from '../../src/events/omit-paths.js';

// canonicalize is CommonJS whose typings declare an ES default export; under NodeNext the import is the
// function itself, so the type is restated here.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** A double from its IEEE 754 bits, as RFC 8785 Appendix B lists them. */
function fromBits(hex: string): number {
  return Buffer.from(hex, 'hex').readDoubleBE(0);
}

describe('canonicalJson: RFC 8785 examples', () => {
  it('serialises the primitives of section 3.2.2 as the RFC does', () => {
    // Arrange: https://www.rfc-editor.org/rfc/rfc8785#section-3.2.2, as JSON text.
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        ' "literals": [null, true, false]}',
    );

    // Act
    const canonical = canonicalJson(input);

    // Assert
    expect(canonical).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('writes the number with bits %s as %s (Appendix B)', (bits, expected) => {
    const value = fromBits(bits);

    expect(canonicalJson([value])).toBe(`[${expected}]`);
    expect(canonicalJson([value])).toBe(canonicalize([value]));
  });

  it.each([
    ['7fffffffffffffff', 'NaN is not allowed'],
    ['7ff0000000000000', 'Infinity is not allowed'],
    ['fff0000000000000', 'Infinity is not allowed'],
  ])('refuses the number with bits %s, as canonicalize does (Appendix B)', (bits, message) => {
    const act = () => canonicalJson({ a: [fromBits(bits)] });

    expect(act).toThrow(message);
    expect(() => canonicalize({ a: [fromBits(bits)] })).toThrow(message);
  });

  it('sorts keys by UTF-16 code units (section 3.2.3)', () => {
    // Arrange: https://www.rfc-editor.org/rfc/rfc8785#section-3.2.3
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };

    // Act
    const canonical = canonicalJson(input);

    // Assert: the emoji (a surrogate pair, 0xd83d…) sorts before U+FB33, unlike by code point.
    expect(canonical).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });
});

describe('canonicalJson: what canonicalize does', () => {
  it('escapes lone surrogates and control characters, and keeps a surrogate pair as it is', () => {
    const value = JSON.parse('["\\ud800", "a\\udc00b", "\\u0000\\u001f\\u007f", "\\ud83d\\ude00"]');

    const canonical = canonicalJson(value);

    expect(canonical).toBe('["\\ud800","a\\udc00b","\\u0000\\u001f\u007f","\ud83d\ude00"]');
    expect(canonical).toBe(canonicalize(value));
  });

  it('writes a __proto__ key that JSON.parse made, as a member like any other', () => {
    const value = JSON.parse('{"b":1,"__proto__":{"x":[1]},"a":2}');

    const canonical = canonicalJson(value);

    expect(canonical).toBe('{"__proto__":{"x":[1]},"a":2,"b":1}');
    expect(canonical).toBe(canonicalize(value));
  });

  it('sorts integer-like keys as strings, not in the order objects keep them', () => {
    const value = JSON.parse('{"10":0,"9":1,"a":2,"-1":3}');

    expect(canonicalJson(value)).toBe('{"-1":3,"10":0,"9":1,"a":2}');
  });

  it('sorts an object of many keys, past the hand-written sort', () => {
    const value = Object.fromEntries(
      Array.from({ length: 200 }, (_, index) => [`k${(index * 7919) % 200}`, index]),
    );

    expect(canonicalJson(value)).toBe(canonicalize(value));
  });

  it('writes -0 as 0 and large and tiny numbers in exponent form', () => {
    expect(canonicalJson({ a: -0, b: 1e21, c: 5e-324, d: 1e-7 })).toBe(
      '{"a":0,"b":1e+21,"c":5e-324,"d":1e-7}',
    );
  });

  it('writes values nested 128 levels deep', () => {
    const text = `${'{"a":['.repeat(64)}1${']}'.repeat(64)}`;
    const value: unknown = JSON.parse(text);

    const canonical = canonicalJson(value);

    expect(canonical).toBe(text);
    expect(canonical).toBe(canonicalize(value));
  });

  it('leaves out undefined members and writes undefined elements as null, as canonicalize does', () => {
    const value = { a: undefined, b: [undefined, 1] };

    expect(canonicalJson(value)).toBe('{"b":[null,1]}');
    expect(canonicalJson(value)).toBe(canonicalize(value));
    expect(canonicalJson(undefined)).toBe('null');
  });
});

describe('canonicalJsonOmitting', () => {
  it('leaves out the fields at the paths and keeps the rest', () => {
    const value = JSON.parse('{"detail":{"metadata":{"c":1},"timestamp":"t","eventBody":{"id":1,"x":2}}}');

    const canonical = canonicalJsonOmitting(
      value,
      omitTree([['detail', 'metadata'], ['detail', 'timestamp'], ['detail', 'eventBody', 'id'], ['missing']]),
    );

    expect(canonical).toBe('{"detail":{"eventBody":{"x":2}}}');
  });

  it('blanks an array element at an index rather than shifting the rest, and ignores other names on arrays', () => {
    const value = { list: ['x', { a: 1, b: 2 }, 'z'] };

    const canonical = canonicalJsonOmitting(
      value,
      omitTree([
        ['list', '0'],
        ['list', '1', 'a'],
        ['list', 'length'],
        ['list', '01'],
        ['list', '7'],
      ]),
    );

    expect(canonical).toBe('{"list":[null,{"b":2},"z"]}');
    expect(canonical).toBe(
      canonicalize(
        omitPaths(value, [
          ['list', '0'],
          ['list', '1', 'a'],
        ]),
      ),
    );
  });

  it('lets the shorter of two paths win, whichever comes first', () => {
    const value = { a: { b: 1, c: 2 }, list: [{ b: 1 }] };
    const paths = [['a', 'b'], ['a'], ['list', '0', 'b'], ['list', '0']];

    expect(canonicalJsonOmitting(value, omitTree(paths))).toBe('{"list":[null]}');
    expect(canonicalJsonOmitting(value, omitTree([...paths].reverse()))).toBe('{"list":[null]}');
  });

  it('drops a __proto__ member from an object it leaves a field out of, as omitPaths always has', () => {
    // omitPaths copies such an object by assignment, and `copy.__proto__ = …` sets the prototype instead of
    // making a member; stored keys were computed that way.
    const value = JSON.parse('{"__proto__":{"x":1},"a":1,"b":2,"inner":{"__proto__":3,"c":4}}');

    const omittingA = canonicalJsonOmitting(value, omitTree([['a']]));
    const omittingMissing = canonicalJsonOmitting(value, omitTree([['missing']]));

    expect(omittingA).toBe('{"b":2,"inner":{"__proto__":3,"c":4}}');
    expect(omittingA).toBe(canonicalize(omitPaths(value, [['a']])));
    expect(omittingMissing).toBe(canonicalJson(value));
  });

  it('writes what canonicalJson writes when there is nothing to leave out', () => {
    const value = JSON.parse('{"b":[1,{"d":null}],"a":"\\u0000"}');

    expect(canonicalJsonOmitting(value, omitTree([]))).toBe(canonicalJson(value));
  });
});
