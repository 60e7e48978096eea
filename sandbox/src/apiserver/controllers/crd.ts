/**
 * CustomResourceDefinitions: validation of a definition (inside the write), establishment
 * (its served versions registered as API types at once, status NamesAccepted + Established;
 * also inside the write, so a client may use the new API as soon as its create returns), and
 * removal: when a CRD is deleted, the controller pass removes every instance, closes the open
 * watches on the type and drops its API.
 */
import { type StatusCause, invalid, invalidCause, requiredCause } from "../errors.js";
import { clone, isObject, kubeTime } from "../objects.js";
import type { JsonSchema } from "../schema.js";
import type { ChangeEvent, KubeObject } from "../store.js";
import { canonicalJson } from "../validation.js";
import type { ControllerHost } from "./controller-host.js";
import type { ControllerLoop } from "./controller-loop.js";
import { Controller } from "./controller.js";

/** The type key of CustomResourceDefinitions. */
export const CRDS = "apiextensions.k8s.io/customresourcedefinitions";

/** The CRD validation, establishment and removal of one cluster. */
export class CrdController extends Controller<KubeObject> {
  /** Subscribes to the host's store; passes run on `loop`. */
  constructor(host: ControllerHost, loop: ControllerLoop) {
    super(host, loop, "crd");
  }

  /** Validates a definition as kube does; throws 422 Invalid naming every bad field. */
  validate(obj: KubeObject): void {
    const name = obj.metadata.name ?? "";
    const spec = isObject(obj.spec) ? obj.spec : undefined;
    if (!spec)
      throw invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, [requiredCause("spec")]);
    const causes: StatusCause[] = [];
    const names = isObject(spec.names) ? spec.names : {};
    if (typeof spec.group !== "string" || !spec.group) causes.push(requiredCause("spec.group"));
    if (typeof names.plural !== "string" || !names.plural) causes.push(requiredCause("spec.names.plural"));
    if (typeof names.kind !== "string" || !names.kind) causes.push(requiredCause("spec.names.kind"));
    if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") {
      causes.push({
        reason: "FieldValueNotSupported",
        message: `Unsupported value: ${JSON.stringify(spec.scope ?? "")}: supported values: "Cluster", "Namespaced"`,
        field: "spec.scope",
      });
    }
    const versions = Array.isArray(spec.versions) ? spec.versions : [];
    if (versions.length === 0)
      causes.push(requiredCause("spec.versions", "must have exactly one version marked as storage version"));
    if (versions.filter((v) => isObject(v) && v.storage === true).length !== 1 && versions.length > 0) {
      causes.push(
        invalidCause(
          "spec.versions",
          versions.map((v) => (isObject(v) ? v.name : v)),
          "must have exactly one version marked as storage version",
        ),
      );
    }
    if (
      typeof spec.group === "string" &&
      typeof names.plural === "string" &&
      name !== `${names.plural}.${spec.group}`
    ) {
      causes.push(invalidCause("metadata.name", name, `must be spec.names.plural+"."+spec.group`));
    }
    if (causes.length) throw invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, causes);
  }

  /** Registers a CRD's served versions as API types and marks it NamesAccepted + Established. */
  establish(crd: KubeObject): void {
    const spec = crd.spec as Record<string, unknown>;
    const names = spec.names as Record<string, unknown>;
    const group = spec.group as string;
    const plural = names.plural as string;
    const kind = names.kind as string;
    const types = this.host.types;
    types.remove(group, plural);
    const versions = (spec.versions as Record<string, unknown>[]).slice();
    versions.sort((a, b) => (a.storage === true ? -1 : b.storage === true ? 1 : 0));
    for (const v of versions) {
      if (v.served === false) continue;
      const schema =
        isObject(v.schema) && isObject(v.schema.openAPIV3Schema)
          ? (v.schema.openAPIV3Schema as JsonSchema)
          : undefined;
      const sub = isObject(v.subresources) ? v.subresources : {};
      types.add({
        group,
        version: v.name as string,
        resource: plural,
        kind,
        listKind: (names.listKind as string | undefined) ?? `${kind}List`,
        singular: (names.singular as string | undefined) ?? kind.toLowerCase(),
        namespaced: spec.scope === "Namespaced",
        shortNames: Array.isArray(names.shortNames) ? (names.shortNames as string[]) : [],
        categories: Array.isArray(names.categories) ? (names.categories as string[]) : [],
        statusSubresource: "status" in sub,
        schema,
        printerColumns: Array.isArray(v.additionalPrinterColumns)
          ? (v.additionalPrinterColumns as never[])
          : [],
        crdName: crd.metadata.name,
      });
    }
    const storage = versions.find((v) => v.storage === true)?.name as string | undefined;
    const status = establishedStatus(names, storage, kubeTime());
    const current = this.host.store.get(CRDS, "", crd.metadata.name!);
    if (!current) return;
    const prevStatus = isObject(current.obj.status) ? current.obj.status : {};
    if (Array.isArray(prevStatus.conditions) && prevStatus.conditions.length > 0) {
      const prevStored = Array.isArray(prevStatus.storedVersions)
        ? (prevStatus.storedVersions as string[])
        : [];
      status.storedVersions = [...new Set([...prevStored, ...status.storedVersions])];
      status.conditions = prevStatus.conditions as typeof status.conditions;
    }
    if (canonicalJson(status) === canonicalJson(prevStatus)) return;
    const next = clone(current);
    next.status = status;
    this.host.commit(this.host.typeFor(CRDS)!, "MODIFIED", next);
  }

  protected observe(e: ChangeEvent): void {
    if (e.typeKey === CRDS && e.type === "DELETED") this.enqueue(e.obj);
  }

  /** Removes a deleted CRD's type and every instance of it. */
  protected process(crd: KubeObject): void {
    const spec = crd.spec as Record<string, unknown>;
    const group = spec.group as string;
    const plural = (spec.names as Record<string, unknown>).plural as string;
    const key = `${group}/${plural}`;
    const t = this.host.typeFor(key);
    if (t) {
      for (const s of [...this.host.store.iterate(key, undefined)]) this.host.commit(t, "DELETED", clone(s));
    }
    this.host.types.remove(group, plural);
    this.host.store.closeWatchers(key);
  }
}

/** The status of an established CRD, as kube's establishing controller writes it. */
function establishedStatus(names: Record<string, unknown>, storage: string | undefined, at: string) {
  const kind = names.kind as string;
  return {
    conditions: [
      {
        type: "NamesAccepted",
        status: "True",
        lastTransitionTime: at,
        reason: "NoConflicts",
        message: "no conflicts found",
      },
      {
        type: "Established",
        status: "True",
        lastTransitionTime: at,
        reason: "InitialNamesAccepted",
        message: "the initial names have been accepted",
      },
    ],
    acceptedNames: {
      plural: names.plural,
      singular: names.singular ?? kind.toLowerCase(),
      kind,
      listKind: names.listKind ?? `${kind}List`,
      ...(names.shortNames ? { shortNames: names.shortNames } : {}),
      ...(names.categories ? { categories: names.categories } : {}),
    },
    storedVersions: storage ? [storage] : [],
  };
}
