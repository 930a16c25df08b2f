/**
 * Replays a Dockerfile's build without a Docker engine, for tests: each stage's filesystem is
 * a directory, COPY copies from the build context (minus its .dockerignore) or from an
 * earlier stage, RUN runs in the stage's WORKDIR with its ENV, and `npm ci` is replaced by
 * links to the repository's installed node_modules (all of them, or the production ones for
 * `--omit=dev`). A stage FROM an earlier one starts as a copy of it. What the replay cannot
 * judge (the base image, USER, ownership) it skips; an instruction it does not know fails it,
 * so a new kind of step cannot silently go unchecked.
 *
 * A RUN step on the system (apt-get, a directory at an absolute path) would change this
 * machine, never the stage: each kind the replay knows stands in for it (SYSTEM_STEPS: an
 * `apt-get install` needs the package installed here, as `npm ci` needs node_modules), and
 * any other step naming an absolute path fails it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Instruction {
  op: string;
  args: string;
  /** 1-based line of the instruction in the Dockerfile. */
  line: number;
}

export interface Stage {
  name: string | undefined;
  from: string;
  instructions: Instruction[];
}

export class ReplayError extends Error {
  override name = 'ReplayError';
}

/** Instructions and their stages; continuation lines joined, comments dropped. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!.trim();
      line = line.slice(0, -1).trimEnd() + (next.startsWith('#') ? '' : ` ${next}`);
    }
    const m = /^(\S+)\s*(.*)$/.exec(line);
    const op = m![1]!.toUpperCase();
    const args = m![2]!;
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (f === null) throw new ReplayError(`line ${start}: cannot read FROM ${args}`);
      stages.push({ from: f[1]!, name: f[2], instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (stage === undefined) throw new ReplayError(`line ${start}: ${op} before any FROM`);
    stage.instructions.push({ op, args, line: start });
  }
  if (stages.length === 0) throw new ReplayError('no FROM');
  return stages;
}

/** A .dockerignore's patterns as a predicate on context-relative paths ('a/b/c'). */
export function dockerignore(text: string): (rel: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const re = pattern
        .split('/')
        .map((seg) => (seg === '**' ? '.*' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (rel) => {
    // A path is ignored when it or any folder above it matches (the last matching rule wins).
    const parts = rel.split('/');
    let ignored = false;
    for (let n = 1; n <= parts.length; n++) {
      const prefix = parts.slice(0, n).join('/');
      for (const r of rules) if (r.re.test(prefix)) ignored = !r.negate;
    }
    return ignored;
  };
}

export interface ReplayOptions {
  /** The build context (docker build's last argument). */
  context: string;
  ignored: (rel: string) => boolean;
  /** Where the stages' filesystems go: one directory per stage. */
  workRoot: string;
  /** The installed node_modules that `npm ci` stands for. */
  nodeModules: string;
  /** Top-level entries of nodeModules that `npm ci --omit=dev` installs. */
  productionModules: () => string[];
}

export interface ReplayedStage {
  name: string | undefined;
  /** The stage's `/`. */
  root: string;
  /** Its last WORKDIR, as a path inside root. */
  workdir: string;
  env: Record<string, string>;
  cmd: string[] | undefined;
  entrypoint: string[] | undefined;
}

const IGNORED_OPS = new Set(['USER', 'EXPOSE', 'LABEL']);

/** Runs every stage; throws ReplayError naming the Dockerfile line that would fail. */
export function replay(stages: Stage[], o: ReplayOptions): ReplayedStage[] {
  const done: ReplayedStage[] = [];
  stages.forEach((stage, i) => {
    const s: ReplayedStage = { name: stage.name, root: path.join(o.workRoot, `stage-${i}`), workdir: '/', env: {}, cmd: undefined, entrypoint: undefined };
    const base = done.find((d) => d.name === stage.from);
    if (base !== undefined) {
      // npm's workspace links are relative: copied as they are, they point into this stage.
      fs.cpSync(base.root, s.root, { recursive: true, verbatimSymlinks: true });
      Object.assign(s, { workdir: base.workdir, env: { ...base.env }, cmd: base.cmd, entrypoint: base.entrypoint });
    }
    fs.mkdirSync(s.root, { recursive: true });
    for (const ins of stage.instructions) {
      const fail = (why: string): never => {
        throw new ReplayError(`Dockerfile line ${ins.line} (${ins.op} ${ins.args}): ${why}`);
      };
      switch (ins.op) {
        case 'WORKDIR':
          s.workdir = path.posix.resolve(s.workdir, ins.args);
          fs.mkdirSync(path.join(s.root, s.workdir), { recursive: true });
          break;
        case 'ENV':
          for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) s.env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
          break;
        case 'COPY':
          copy(s, ins.args, done, o, fail);
          break;
        case 'RUN':
          run(s, ins.args, o, fail);
          break;
        case 'CMD':
          s.cmd = execForm(ins.args);
          break;
        case 'ENTRYPOINT':
          s.entrypoint = execForm(ins.args);
          break;
        default:
          if (!IGNORED_OPS.has(ins.op)) fail('the replay does not know this instruction: teach packages/launcher/test/dockerfile.ts');
      }
    }
    done.push(s);
  });
  return done;
}

/** An exec-form (JSON) command, or a shell-form one as Docker runs it. */
function execForm(args: string): string[] {
  try {
    return JSON.parse(args) as string[];
  } catch {
    return ['sh', '-c', args];
  }
}

function copy(s: ReplayedStage, args: string, done: ReplayedStage[], o: ReplayOptions, fail: (why: string) => never): void {
  const words = args.split(/\s+/);
  let from: ReplayedStage | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    const m = /^--from=(.+)$/.exec(flag);
    if (m === null) continue;
    from = done.find((d) => d.name === m[1]) ?? done[Number(m[1])];
    if (from === undefined) fail(`no earlier stage ${m[1]}`);
  }
  const dest = words.pop();
  if (dest === undefined || words.length === 0) fail('needs a source and a destination');
  const target = path.join(s.root, path.posix.resolve(s.workdir, dest));
  const intoDir = dest.endsWith('/') || words.length > 1;
  for (const src of words) {
    const source = from === undefined ? path.join(o.context, src) : path.join(from.root, path.posix.resolve(from.workdir, src));
    if (from === undefined && path.relative(o.context, source).startsWith('..')) fail(`${src} is outside the build context`);
    if (!fs.existsSync(source) || (from === undefined && o.ignored(path.relative(o.context, source)))) {
      fail(`${src} does not exist in ${from === undefined ? 'the build context' : `stage ${from.name ?? '?'}`}`);
    }
    const ignore = from === undefined ? (p: string): boolean => o.ignored(path.relative(o.context, p)) : () => false;
    if (fs.statSync(source).isDirectory()) {
      // A directory's contents go into the destination, as Docker copies them.
      fs.mkdirSync(target, { recursive: true });
      fs.cpSync(source, target, { recursive: true, filter: (p) => p === source || !ignore(p) });
    } else {
      const to = intoDir ? path.join(target, path.basename(source)) : target;
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(source, to);
    }
  }
}

function run(s: ReplayedStage, command: string, o: ReplayOptions, fail: (why: string) => never): void {
  const cwd = path.join(s.root, s.workdir);
  for (const part of command.split('&&').map((p) => p.trim())) {
    if (/^npm ci\b/.test(part)) {
      installModules(cwd, /--omit=dev\b/.test(part), o, fail);
      continue;
    }
    if (/^npm cache clean\b/.test(part)) continue;
    const system = SYSTEM_STEPS.find(([pattern]) => pattern.test(part));
    if (system !== undefined) {
      system[1](part, s, fail);
      continue;
    }
    if (/(^|\s)\//.test(part)) fail(`"${part}" names a path outside the stage: replayed, it would change this machine (teach SYSTEM_STEPS)`);
    const r = spawnSync('sh', ['-c', part], { cwd, env: { ...process.env, ...s.env }, encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) fail(`exit ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`);
  }
}

type SystemStep = (part: string, s: ReplayedStage, fail: (why: string) => never) => void;

const SYSTEM_STEPS: [RegExp, SystemStep][] = [
  [/^apt-get update$/, () => undefined],
  // Installed here instead: the replay runs what the stage runs on this machine's packages.
  [
    /^apt-get install\b/,
    (part, _s, fail) => {
      for (const pkg of part.split(/\s+/).slice(2).filter((w) => !w.startsWith('-'))) {
        const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
        if (!r.stdout.includes('install ok installed')) fail(`${pkg} is not installed on this machine, which stands in for it: apt-get install ${pkg}`);
      }
    },
  ],
  [/^rm -rf \/var\/lib\/apt\/lists\/\*$/, () => undefined],
  // The directory inside the stage; its owner is not replayed (as USER is not).
  [/^install -d( -[og] \S+)* \/\S+$/, (part, s) => fs.mkdirSync(path.join(s.root, part.split(/\s+/).pop()!), { recursive: true })],
];

/**
 * `npm ci` without a download: links to what the repository has installed. The workspace
 * packages (`@shop/*`, which npm installs as links to their folders) are linked as npm links
 * them, to the folders inside the image, and like npm ci the replay fails when one is missing.
 */
function installModules(cwd: string, productionOnly: boolean, o: ReplayOptions, fail: (why: string) => never): void {
  const target = path.join(cwd, 'node_modules');
  fs.mkdirSync(target);
  const names = productionOnly ? o.productionModules() : topLevelModules(o.nodeModules);
  for (const name of names) {
    const installed = path.join(o.nodeModules, name);
    const to = path.join(target, name);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    if (fs.lstatSync(installed).isSymbolicLink()) {
      const link = fs.readlinkSync(installed);
      const folder = path.resolve(path.dirname(to), link);
      if (!fs.existsSync(path.join(folder, 'package.json'))) fail(`npm ci: workspace ${name} has no package.json at ${path.relative(cwd, folder)}`);
      fs.symlinkSync(link, to);
    } else {
      fs.symlinkSync(installed, to);
    }
  }
}

/** Every top-level entry of a node_modules folder (`name`, `@scope/name`, `.bin`). */
function topLevelModules(nodeModules: string): string[] {
  return fs.readdirSync(nodeModules).flatMap((e) => (e.startsWith('@') ? fs.readdirSync(path.join(nodeModules, e)).map((n) => `${e}/${n}`) : [e]));
}

/** Top-level node_modules entries of the production dependency tree of a project. */
export function productionModules(projectRoot: string): string[] {
  let out: string;
  try {
    out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    // npm ls exits 1 on problems it reports (extraneous packages) but still lists the tree.
    out = (err as { stdout?: string }).stdout ?? '';
  }
  const prefix = path.join(projectRoot, 'node_modules') + path.sep;
  const names = new Set<string>();
  for (const line of out.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const parts = line.slice(prefix.length).split(path.sep);
    // Only top-level packages: nested node_modules come along inside their parent.
    const name = parts[0]?.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    const depth = parts[0]?.startsWith('@') ? 2 : 1;
    if (name !== undefined && parts.length === depth) names.add(name);
  }
  return [...names].sort();
}
