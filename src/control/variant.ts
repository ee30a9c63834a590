/**
 * A valibot variant parsed by a lookup of its discriminator, not a walk.
 *
 * `v.variant` tries its options in order and, for every option whose
 * discriminator does not match, builds an issue (an object with its
 * message) before it finds the right one: with 22 commands in the log or
 * 13 agent messages that was most of the cost of validating a small one
 * (a token.create 1.6 µs, 0.5 by lookup; a pong 0.32 µs, 0.09), paid by
 * every master for every entry it applies and for every control message.
 * The result is the variant's: the same option validates the same input,
 * and input without a known discriminator goes through the variant itself,
 * so its error reads the same.
 */
import * as v from "valibot";

export type Variant = v.VariantSchema<string, v.VariantOptions<string>, v.ErrorMessage<v.VariantIssue> | undefined>;

export type VariantParser<S extends Variant> = (data: unknown) => v.SafeParseResult<S>;

export function variantParser<S extends Variant>(schema: S): VariantParser<S> {
  const byTag = new Map<unknown, v.GenericSchema>();
  for (const option of schema.options) {
    // Options of a nested variant or with a non-literal discriminator would need the walk: not used here, so refused at start-up.
    const tag = option.type === "variant" ? undefined : (option as { entries: Record<string, v.GenericSchema> }).entries[schema.key];
    if (tag?.type !== "literal") throw new Error(`variantParser: every option of the "${schema.key}" variant must be an object with a literal "${schema.key}"`);
    const literal = (tag as v.LiteralSchema<v.Literal, undefined>).literal;
    if (byTag.has(literal)) throw new Error(`variantParser: two options with "${schema.key}" ${String(literal)}`);
    byTag.set(literal, option as v.GenericSchema);
  }
  return (data) => {
    const option = data !== null && typeof data === "object" ? byTag.get((data as Record<string, unknown>)[schema.key]) : undefined;
    return (option ? v.safeParse(option, data) : v.safeParse(schema, data)) as v.SafeParseResult<S>;
  };
}

const built = new WeakMap<Variant, VariantParser<Variant>>();

/** The parser of `schema`, built on first use (the lookup table is made once per schema). */
export function parserOf<S extends Variant>(schema: S): VariantParser<S> {
  let parse = built.get(schema);
  if (!parse) {
    parse = variantParser(schema);
    built.set(schema, parse);
  }
  return parse as VariantParser<S>;
}
