/**
 * Namespace ResourceQuota templates: one `hard` map whose values may reference `{{ variable }}`
 * placeholders, default variable values, and per project / project-domain overrides (of
 * variables or of whole `hard` entries). Rendering is pure; the sync applies the result.
 */

import { AdminError } from "../errors.js";
import { QueueReasonCode } from "../routing/reason.js";

/** Name of the ResourceQuota admin manages in every execution namespace. */
export const RESOURCE_QUOTA_NAME = "flotilla-executions";

/** A per project (or project/domain) override of the quota template. */
export interface ResourceQuotaOverride {
  project: string;
  /** Domain; unset applies to every domain of the project. */
  domain?: string | undefined;
  /** Variable values overriding the template defaults. */
  values?: Record<string, string> | undefined;
  /** Whole `hard` entries overriding the rendered template (an empty string removes the entry). */
  hard?: Record<string, string> | undefined;
}

/** The `dataPlane.resourceQuota` configuration. */
export interface ResourceQuotaConfig {
  /** ResourceQuota `spec.hard` template, e.g. `{"requests.cpu": "{{ projectQuotaCpu }}"}`. */
  hard: Record<string, string>;
  /** Default values of template variables. */
  values?: Record<string, string> | undefined;
  overrides?: ResourceQuotaOverride[] | undefined;
}

/** A template references a variable with no value, or is otherwise unusable. */
export class QuotaTemplateError extends AdminError {
  override readonly name = "QuotaTemplateError";
  readonly reason = QueueReasonCode.QuotaTemplateInvalid;
  constructor(
    readonly project: string,
    readonly domain: string,
    readonly key: string,
    readonly problem: string,
  ) {
    super(`resource quota for ${project}/${domain}, entry ${JSON.stringify(key)}: ${problem}`);
  }
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/**
 * Renders the quota `hard` map for a project/domain: template defaults, then project
 * overrides, then project-domain overrides, then `attributeValues` (the CLUSTER_RESOURCE
 * matchable attributes); built-in variables `project`, `domain`, `namespace`. Returns the map (empty when the template is empty); throws
 * {@link QuotaTemplateError} for an unresolved variable.
 */
export function renderResourceQuota(
  config: ResourceQuotaConfig,
  project: string,
  domain: string,
  namespace: string,
  attributeValues: Record<string, string> = {},
): Record<string, string> {
  const overrides = config.overrides ?? [];
  const projectLevel = overrides.filter((o) => o.project === project && !o.domain);
  const domainLevel = overrides.filter((o) => o.project === project && o.domain === domain);
  const values: Record<string, string> = { ...(config.values ?? {}) };
  for (const o of [...projectLevel, ...domainLevel]) Object.assign(values, o.values ?? {});
  Object.assign(values, attributeValues);
  Object.assign(values, { project, domain, namespace });

  const hard: Record<string, string> = {};
  for (const [key, template] of Object.entries(config.hard)) {
    hard[key] = template.replace(PLACEHOLDER, (_m, name: string) => {
      const v = values[name];
      if (v === undefined)
        throw new QuotaTemplateError(project, domain, key, `variable ${name} has no value`);
      return v;
    });
  }
  for (const o of [...projectLevel, ...domainLevel]) {
    for (const [key, value] of Object.entries(o.hard ?? {})) {
      if (value === "") delete hard[key];
      else hard[key] = value;
    }
  }
  return hard;
}
