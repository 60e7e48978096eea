import { isDnsLabel, isDnsSubdomain, isLabelKey, isLabelValue, tryParseQuantity } from "@flotilla/common";

/** A check of a text: a RegExp, or a function of `@flotilla/common` in the same shape. */
export interface TextCheck {
  test(text: string): boolean;
}

/** A text check with the rule name used in problems ("is not <rule>"). */
export interface Rule {
  readonly pattern: TextCheck;
  readonly rule: string;
}

// Kubernetes' own naming rules and quantities are checked by @flotilla/common, the same code
// the sandbox and the services use, rather than by a second copy of their regular expressions.
const check = (test: (text: string) => boolean): TextCheck => ({ test });

/** Validation patterns of the v1 contract (see the field comments in proto/), with their rule names. */
export const Patterns = {
  entityName: {
    pattern: /^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$/,
    rule: "a name of 1-255 chars of [a-zA-Z0-9_.-] starting with a letter",
  },
  version: { pattern: /^[a-zA-Z0-9_.-]{1,128}$/, rule: "a version of 1-128 chars of [a-zA-Z0-9_.-]" },
  nodeId: { pattern: /^[a-z0-9_-]{1,63}$/, rule: "a node id of 1-63 chars of [a-z0-9-_]" },
  variable: {
    pattern: /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/,
    rule: "a variable name of 1-63 chars of [a-zA-Z0-9_] not starting with a digit",
  },
  dnsLabel: {
    pattern: check((text) => isDnsLabel(text)),
    rule: "a DNS-1123 label (lowercase alphanumerics and '-', 1-63 chars)",
  },
  dnsSubdomain: {
    pattern: check(isDnsSubdomain),
    rule: "a DNS-1123 subdomain",
  },
  taskType: { pattern: /^[a-z0-9-]{1,63}$/, rule: "a task type of 1-63 chars of [a-z0-9-]" },
  envKey: {
    pattern: /^[A-Za-z_][A-Za-z0-9_]{0,254}$/,
    rule: "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
  },
  labelKey: {
    pattern: check(isLabelKey),
    rule: "a Kubernetes label key",
  },
  labelValue: {
    pattern: check(isLabelValue),
    rule: "a Kubernetes label value (at most 63 chars)",
  },
  annotationKey: {
    pattern: check(isLabelKey),
    rule: "a Kubernetes annotation key",
  },
  quantity: {
    pattern: check((text) => tryParseQuantity(text) !== undefined),
    rule: 'a Kubernetes quantity such as "500m", "2" or "4Gi"',
  },
  cacheVersion: {
    pattern: /^[a-zA-Z0-9_.-]{1,128}$/,
    rule: "a cache version of 1-128 chars of [a-zA-Z0-9_.-]",
  },
  executionName: {
    pattern: check((text) => isDnsLabel(text, 20)),
    rule: "a DNS-1123 label of 1-20 chars",
  },
} as const satisfies Record<string, Rule>;

/** Reserved node ids. */
export const RESERVED_NODE_IDS = new Set(["start-node", "end-node"]);

/** Seven days in milliseconds: the longest timeout the contract accepts. */
export const MAX_TIMEOUT_MS = 7 * 24 * 3600 * 1000;
