import fc from 'fast-check';

/**
 * Arbitraries of raw JSON *text*, for what JSON.stringify of a generated value can never write: `1e400`,
 * `-0`, `1.0`, long exponents, integers past 2^53, duplicate member names, escaped lone surrogates, odd white
 * space and deep nesting. Every text is valid JSON by RFC 8259's grammar; what a parser makes of it is the
 * question the tests ask.
 */

const digits = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((list) => list.join(''));

const integerPart = fc.oneof(
  fc.constant('0'),
  fc.tuple(fc.integer({ min: 1, max: 9 }), digits(0, 20)).map(([a, b]) => `${a}${b}`),
);

/** A number as text: sign, integer part, optional fraction (trailing zeros too), optional exponent of any length. */
export const numberText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '-0',
    '0.0',
    '1.0',
    '1e400',
    '-1e400',
    '1E+308',
    '2e308',
    '1e-400',
    '9007199254740993',
    '-9007199254740993',
    `1${'0'.repeat(309)}`,
    '1e0000000000000000000001',
    '0.1e-0000000000000000400',
  ),
  fc
    .tuple(
      fc.boolean(),
      integerPart,
      fc.option(digits(1, 20), { nil: undefined }),
      fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 5)), {
        nil: undefined,
      }),
    )
    .map(([negative, whole, fraction, exponent]) =>
      [
        negative ? '-' : '',
        whole,
        fraction === undefined ? '' : `.${fraction}`,
        exponent ? exponent.join('') : '',
      ].join(''),
    ),
);

/** A JSON string literal as text: plain characters, escapes, and escaped lone surrogates. */
export const stringText: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 8 }).map((text) => JSON.stringify(text).slice(1, -1)),
      fc.constantFrom(
        '\\u00e9',
        'é',
        '✓',
        '😀',
        '\\ud83d\\ude00',
        '\\ud800',
        '\\udfff',
        '\\/',
        '\\"',
        '\\\\',
        '\\n',
        '\\u0000',
        '\\uFFFD',
        '\uFFFD',
      ),
    ),
    { maxLength: 6 },
  )
  .map((parts) => `"${parts.join('')}"`);

const space = fc.constantFrom('', ' ', '\n', '\t', '\r\n  ');

/** Any JSON value as text, objects with duplicate member names among them. */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numberText,
    stringText,
    fc.constantFrom('true', 'false', 'null'),
    fc
      .tuple(space, fc.array(tie('value'), { maxLength: 4 }))
      .map(([ws, items]) => `[${ws}${items.join(`,${ws}`)}${ws}]`),
    fc
      .tuple(
        space,
        fc.array(
          fc.tuple(fc.oneof(stringText, fc.constantFrom('"a"', '"id"', '"constructor"')), tie('value')),
          { maxLength: 4 },
        ),
        fc.boolean(),
      )
      .map(([ws, members, repeatFirst]) => {
        const all =
          repeatFirst && members.length > 0 ? [...members, members[0] as [string, string]] : members;
        return `{${ws}${all.map(([name, value]) => `${name}:${ws}${value}`).join(`,${ws}`)}${ws}}`;
      }),
  ),
})).value;

/** Nesting as text, sometimes past the receiver's 128 levels. */
export const deepText: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 100, max: 160 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );
