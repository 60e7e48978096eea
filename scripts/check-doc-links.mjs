#!/usr/bin/env node
/**
 * Checks the links of the repository's Markdown documentation (README.md, docs/*.md and every
 * package's README.md): a relative link must name a file or folder that exists (and, for a
 * `#fragment` into a Markdown file, a heading of that file), no link may climb out of the
 * repository, and no link may leave it (http/https) unless `--allow-external` is given.
 * Prints one line per bad link and exits 1 when there is any, else 0.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const allowExternal = process.argv.includes("--allow-external");

/** The Markdown files the check covers. */
function documents() {
  const files = [join(root, "README.md")];
  const docs = join(root, "docs");
  if (existsSync(docs)) for (const f of readdirSync(docs)) if (f.endsWith(".md")) files.push(join(docs, f));
  for (const d of readdirSync(root)) {
    const readme = join(root, d, "README.md");
    if (!d.startsWith(".") && d !== "node_modules" && existsSync(readme)) files.push(readme);
  }
  return files;
}

/** GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to dashes. */
function anchorOf(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of a Markdown file's headings (outside code fences). */
function anchors(file) {
  const out = new Set();
  let fenced = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(anchorOf(m[1]));
  }
  return out;
}

const problems = [];
for (const file of documents()) {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1];
    const where = relative(root, file);
    if (/^[a-z]+:/i.test(target)) {
      if (!allowExternal) problems.push(`${where}: ${target}: leaves the repository`);
      continue;
    }
    const [path, fragment] = target.split("#");
    const resolved = path === "" ? file : resolve(dirname(file), path);
    if (relative(root, resolved).startsWith("..")) {
      problems.push(`${where}: ${target}: points outside the repository`);
    } else if (!existsSync(resolved)) {
      problems.push(`${where}: ${target}: no such file`);
    } else if (fragment && statSync(resolved).isFile() && resolved.endsWith(".md")) {
      if (!anchors(resolved).has(fragment)) problems.push(`${where}: ${target}: no such heading`);
    }
  }
}
for (const p of problems) console.log(p);
console.log(`${documents().length} files checked, ${problems.length} bad link(s)`);
process.exit(problems.length > 0 ? 1 : 0);
