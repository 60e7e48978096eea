/**
 * The resource types the server serves: built-in core/coordination/apiextensions types and the
 * custom resources that CRDs add at runtime. Discovery documents are generated from here.
 */
import type { JsonSchema } from "./schema.js";

/** One served resource type (e.g. core/v1 pods, flotilla.io/v1alpha1 workflowexecutions). */
export interface ResourceType {
  group: string;
  version: string;
  /** Plural resource name used in URLs. */
  resource: string;
  kind: string;
  listKind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Whether `/status` is a subresource (status changes only through it). */
  statusSubresource: boolean;
  /** Structural schema of the served version (custom resources only). */
  schema?: JsonSchema;
  /** Extra printer columns (custom resources only). */
  printerColumns: PrinterColumn[];
  /** The CRD that defines this type, when it is a custom resource. */
  crdName?: string;
}

/** A CRD `additionalPrinterColumns` entry. */
export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

/** The verbs every resource supports. */
export const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

function builtin(
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[] = [],
  statusSubresource = false,
  categories: string[] = [],
): ResourceType {
  return {
    group,
    version,
    resource,
    kind,
    listKind: `${kind}List`,
    singular: kind.toLowerCase(),
    namespaced,
    shortNames,
    categories,
    statusSubresource,
    printerColumns: [],
  };
}

/** The built-in types every sandbox cluster serves. */
export function builtinTypes(): ResourceType[] {
  return [
    builtin("", "v1", "namespaces", "Namespace", false, ["ns"], true),
    builtin("", "v1", "pods", "Pod", true, ["po"], true, ["all"]),
    builtin("", "v1", "events", "Event", true, ["ev"]),
    builtin("", "v1", "configmaps", "ConfigMap", true, ["cm"]),
    builtin("", "v1", "secrets", "Secret", true),
    builtin("", "v1", "serviceaccounts", "ServiceAccount", true, ["sa"]),
    builtin("", "v1", "nodes", "Node", false, ["no"], true),
    builtin("", "v1", "resourcequotas", "ResourceQuota", true, ["quota"], true),
    builtin("coordination.k8s.io", "v1", "leases", "Lease", true),
    builtin("events.k8s.io", "v1", "events", "Event", true, ["ev"]),
    builtin(
      "apiextensions.k8s.io",
      "v1",
      "customresourcedefinitions",
      "CustomResourceDefinition",
      false,
      ["crd", "crds"],
      true,
    ),
  ];
}

/** `group/version` as it appears in `apiVersion` (`v1` for the core group). */
export function groupVersion(t: { group: string; version: string }): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

/** The storage key of a resource type: `group/resource` (versions share storage). */
export function typeKey(t: { group: string; resource: string }): string {
  return `${t.group}/${t.resource}`;
}

/**
 * The live set of served types. Lookups are by URL segments (group, version, resource) and by
 * kind; CRDs add and remove entries while the server runs.
 */
export class TypeRegistry {
  private readonly byPath = new Map<string, ResourceType>();
  private readonly byKey = new Map<string, ResourceType[]>();

  constructor(types: ResourceType[]) {
    for (const t of types) this.add(t);
  }

  /** Registers (or replaces) a type version. */
  add(t: ResourceType): void {
    this.byPath.set(`${t.group}/${t.version}/${t.resource}`, t);
    const list = (this.byKey.get(typeKey(t)) ?? []).filter((x) => x.version !== t.version);
    list.push(t);
    this.byKey.set(typeKey(t), list);
  }

  /** Removes every version of `group/resource`. */
  remove(group: string, resource: string): void {
    for (const t of this.byKey.get(`${group}/${resource}`) ?? []) {
      this.byPath.delete(`${t.group}/${t.version}/${t.resource}`);
    }
    this.byKey.delete(`${group}/${resource}`);
  }

  /** The type served at `/apis/<group>/<version>/<resource>`, if any. */
  get(group: string, version: string, resource: string): ResourceType | undefined {
    return this.byPath.get(`${group}/${version}/${resource}`);
  }

  /** Every version served for a storage key. */
  versionsOf(key: string): ResourceType[] {
    return this.byKey.get(key) ?? [];
  }

  /** Every served type. */
  all(): ResourceType[] {
    return [...this.byPath.values()];
  }

  /** All served group/versions, core first, grouped by group in registration order. */
  groups(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const t of this.byPath.values()) {
      const versions = groups.get(t.group) ?? [];
      if (!versions.includes(t.version)) versions.push(t.version);
      groups.set(t.group, versions);
    }
    return groups;
  }
}
