/**
 * The code the READMEs show, taken from their fenced blocks so the tests run it verbatim: a README edit that
 * breaks the code breaks a test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './workspace.js';

export interface CodeBlock {
  lang: string;
  code: string;
}

/** Every fenced block of a Markdown file (relative to the repository root). */
export function codeBlocks(file: string): CodeBlock[] {
  const text = readFileSync(join(REPO, file), 'utf8');
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] ?? '', code: m[2] ?? '' }));
}

/** The fenced blocks under one heading (up to the next heading of the same or a higher level). */
export function sectionBlocks(file: string, heading: string): CodeBlock[] {
  const text = readFileSync(join(REPO, file), 'utf8');
  const start = text.search(new RegExp(`^(#+) ${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'm'));
  if (start < 0) throw new Error(`${file} has no heading "${heading}"`);
  const level = /^#+/.exec(text.slice(start))?.[0].length ?? 1;
  const rest = text.slice(start).split('\n').slice(1).join('\n');
  const end = rest.search(new RegExp(`^#{1,${level}} `, 'm'));
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] ?? '', code: m[2] ?? '' }));
}

/** The first JavaScript/TypeScript block of a section (or of the file) that contains `needle`. */
export function snippet(file: string, needle: string, heading?: string): string {
  const blocks = heading ? sectionBlocks(file, heading) : codeBlocks(file);
  const block = blocks.find((b) => /^(js|ts|javascript|typescript|mjs)$/.test(b.lang) && b.code.includes(needle));
  if (!block) throw new Error(`${file}${heading ? ` (section "${heading}")` : ''} has no code block with "${needle}"`);
  return block.code;
}

/** One shell block's install line (the words after `pnpm add` / `npm install`) and the client commands after it. */
export interface InstallStep {
  install: string[];
  /** Later lines of the same block for the same client, e.g. `pnpm approve-builds better-sqlite3`, as words. */
  afterwards: string[][];
}

/**
 * The install lines of a README's shell blocks for one client: `pnpm add …` or `npm install …` (`npm i`),
 * each split into its words, with the same client's commands that follow in the block. Comments are dropped,
 * lines continued with a backslash are joined.
 */
export function installSteps(file: string, client: 'npm' | 'pnpm'): InstallStep[] {
  const steps: InstallStep[] = [];
  const command = client === 'pnpm' ? /^(?:npx (?:--yes |-y )?)?pnpm(?:@[\d.]+)? (.*)$/ : /^npm (.*)$/;
  for (const block of codeBlocks(file).filter((b) => /^(sh|bash|shell|console)?$/.test(b.lang))) {
    let step: InstallStep | undefined;
    for (const raw of block.code.replace(/\\\n/g, ' ').split('\n')) {
      const line = raw
        .replace(/^\$\s*/, '')
        .replace(/\s+#.*$/, '')
        .trim();
      const args = command.exec(line)?.[1]?.split(/\s+/);
      if (!args) continue;
      if (/^(add|install|i)$/.test(args[0] ?? '') && args.length > 1 && (client === 'pnpm') === (args[0] === 'add')) {
        step = { install: args.slice(1), afterwards: [] };
        steps.push(step);
      } else if (step) {
        step.afterwards.push(args);
      }
    }
  }
  return steps;
}
