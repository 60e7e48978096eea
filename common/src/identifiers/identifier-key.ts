/**
 * The one string key of a registered entity's identifier, used wherever tasks, workflows and
 * launch plans are indexed by identity (the admin's compiler lookups, the propeller's compiled
 * closure) and named in messages.
 */
import type { Identifier } from "@flotilla/proto";

/** The parts of an identifier that make up its key (the resource type is not part of it). */
export type IdentifierParts = Pick<Identifier, "project" | "domain" | "name" | "version">;

/**
 * Canonical string key of an identifier, `project/domain/name@version`
 * (`ml/development/train@v3`); the empty string for a missing identifier, so lookups by an
 * absent reference simply miss. Pure.
 */
export function identifierKey(id: IdentifierParts | undefined): string {
  return id ? `${id.project}/${id.domain}/${id.name}@${id.version}` : "";
}
