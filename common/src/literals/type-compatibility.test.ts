import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  BlobType_BlobDimensionality,
  BlobTypeSchema,
  EnumTypeSchema,
  LiteralTypeSchema,
  SimpleType,
  type LiteralType,
} from "@flotilla/proto";
import { isAssignable } from "./type-compatibility.js";

const simple = (value: SimpleType) => create(LiteralTypeSchema, { type: { case: "simple", value } });
const anEnum = (...values: string[]) =>
  create(LiteralTypeSchema, { type: { case: "enumType", value: create(EnumTypeSchema, { values }) } });
const list = (value: LiteralType) => create(LiteralTypeSchema, { type: { case: "collectionType", value } });
const map = (value: LiteralType) => create(LiteralTypeSchema, { type: { case: "mapValueType", value } });
const blob = (format: string, multipart = false) =>
  create(LiteralTypeSchema, {
    type: {
      case: "blob",
      value: create(BlobTypeSchema, {
        format,
        dimensionality: multipart
          ? BlobType_BlobDimensionality.MULTIPART
          : BlobType_BlobDimensionality.SINGLE,
      }),
    },
  });

const integer = simple(SimpleType.INTEGER);
const string = simple(SimpleType.STRING);

test("which source types bind to which targets", () => {
  const table: [string, LiteralType | undefined, LiteralType | undefined, boolean][] = [
    ["equal simple types", integer, integer, true],
    ["different simple types", integer, string, false],
    ["string to integer", string, integer, false],
    ["an enum to a string", string, anEnum("fast", "slow"), true],
    ["a string to an enum", anEnum("fast", "slow"), string, false],
    ["an enum to an integer", integer, anEnum("1"), false],
    ["the same enum", anEnum("fast", "slow"), anEnum("fast", "slow"), true],
    ["an enum subset", anEnum("fast", "slow"), anEnum("slow"), true],
    ["an enum superset", anEnum("slow"), anEnum("fast", "slow"), false],
    ["a list of enums to a list of strings", list(string), list(anEnum("a")), true],
    ["a list of strings to a list of integers", list(integer), list(string), false],
    ["a list to a map", map(integer), list(integer), false],
    ["a map of enum subsets", map(anEnum("a", "b")), map(anEnum("a")), true],
    ["blobs of one format", blob("csv"), blob("csv"), true],
    ["a blob of any format", blob(""), blob("csv"), true],
    ["to a blob of any format", blob("csv"), blob(""), true],
    ["blobs of different formats", blob("csv"), blob("parquet"), false],
    ["single to multipart blob", blob("", true), blob(""), false],
    ["a missing source", integer, undefined, false],
    ["a missing target", undefined, integer, false],
    ["an unset type", integer, create(LiteralTypeSchema), false],
  ];
  for (const [what, target, source, expected] of table) {
    assert.equal(isAssignable(target, source), expected, what);
  }
});
