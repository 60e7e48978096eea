#!/usr/bin/env node
// Build step (after `tsc -b`): writes the prebuilt PGlite data directory new embedded databases
// start from (db/dist/pglite-template-<version>.tar.gz), unless it is already there.
import { ensureEmbeddedTemplate } from "../dist/embedded-template.js";

const { path, created } = await ensureEmbeddedTemplate();
if (created) console.log(`embedded database template written: ${path}`);
