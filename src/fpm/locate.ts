import { FpmkitInvalidOptionError, FpmkitIoError, FpmkitParseError } from '../errors.js';
import {
  type EditFpmConfigOptions,
  editFpmConfig,
  type FpmEdit,
  type FpmEditChange,
  type FpmEditTarget,
  isGlobalSection,
  resolveFpmEditTarget,
  scanFpmLine,
  splitFpmLines,
  statementMatches,
  targetName,
} from './edit.js';
import type { IniScanContext, IniStatement } from './ini-line.js';
import {
  DEBIAN_PHP_PREFIX,
  type FpmGlob,
  type FpmReadFile,
  type ParseFpmConfigResult,
  type SourceLocation,
} from './parse.js';
import { phpConstantValue } from './php-constants.js';

/**
 * Where each statement of a configuration comes from, across `include` lines, with the section
 * FPM has in force at each point: the information an editor needs to change the right line of
 * the right file. Includes are followed as FPM follows them (sorted glob matches, relative
 * patterns against the prefix, at most 5 levels, the section carried into and out of each file).
 */

/** One file as FPM loads it. */
export interface FpmSourceFile {
  path: string;
  text: string;
  /** The section in force at its first line (`global` for the main file). */
  initialSection: string;
  /** The section in force after each `include` line of this file, by 1-based line number. */
  sectionsAfterInclude: Map<number, string>;
  /** The `include` line that loaded it; undefined for the main file. */
  includedFrom?: SourceLocation;
}

/** One statement (section header, directive, array entry) in load order. */
export interface FpmSourceStatement extends SourceLocation {
  /** The section it belongs to, in lower case (`global` or a pool name). */
  section: string;
  statement: IniStatement;
}

/**
 * Where each directive of a config came from: the root file, the files it includes in load order,
 * and each directive's file and line.
 */
export interface FpmSourceMap {
  root: string;
  /** Files in the order FPM reads them (a file included twice appears twice). */
  files: FpmSourceFile[];
  /** Every statement in the order FPM reads them. */
  statements: FpmSourceStatement[];
  /** Pools in order of first appearance, with the header line that opened each. */
  pools: { name: string; file: string; line: number }[];
  /** The first `[global]` header, if any. */
  globalHeader?: SourceLocation;
}

/** Options of {@link mapFpmSources}: how to read files and expand include patterns. */
export interface MapFpmSourcesOptions {
  /** Reads a file; throw an error with an errno `code` on failure. */
  readFile: FpmReadFile;
  /** Expands include patterns. Without it only patterns without wildcards are followed. */
  glob?: FpmGlob | undefined;
  /** The global prefix (`php-fpm -p`) relative includes resolve against. @default '/usr' */
  prefix?: string | undefined;
  /** The master's environment for `${NAME}`. @default {} */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/** FPM refuses to nest includes deeper than this. */
const MAX_INCLUDE_DEPTH = 5;

function errnoOf(error: unknown): string | undefined {
  const e = error as { errno?: unknown; code?: unknown } | null;
  if (typeof e?.errno === 'string') return e.errno;
  return typeof e?.code === 'string' && !e.code.startsWith('FPMKIT_') ? e.code : undefined;
}

const sectionKey = (name: string) => (isGlobalSection(name) ? 'global' : name.toLowerCase());

/**
 * Follows a configuration from its main file through every include and records where each
 * statement is and which section it belongs to. Throws `FpmkitIoError` for a file that cannot
 * be read or a pattern that cannot be expanded, and `FpmkitParseError` for an INI syntax error
 * or includes nested deeper than FPM allows.
 */
export function mapFpmSources(rootPath: string, options: MapFpmSourcesOptions): FpmSourceMap {
  if (typeof options?.readFile !== 'function') {
    throw new FpmkitInvalidOptionError('readFile', 'must be a function that reads a file');
  }
  const env = options.env ?? {};
  const ctx: IniScanContext = {
    variable: (name) => (Object.hasOwn(env, name) ? (env[name] ?? '') : ''),
    constant: (name) => phpConstantValue(name),
  };
  const map: FpmSourceMap = { root: rootPath, files: [], statements: [], pools: [] };
  const seenPools = new Set<string>();
  let current = 'global';

  const read = (path: string): string => {
    try {
      return options.readFile(path);
    } catch (error) {
      const errno = errnoOf(error);
      throw new FpmkitIoError(path, `cannot read FPM configuration file '${path}'`, {
        cause: error,
        ...(errno ? { errno } : {}),
      });
    }
  };
  const expand = (pattern: string, from: SourceLocation): readonly string[] => {
    if (options.glob) {
      try {
        return options.glob(pattern);
      } catch (error) {
        const errno = errnoOf(error);
        throw new FpmkitIoError(pattern, `cannot expand include pattern '${pattern}'`, {
          cause: error,
          ...(errno ? { errno } : {}),
        });
      }
    }
    if (/[*?[]/.test(pattern)) {
      throw new FpmkitInvalidOptionError(
        'glob',
        `is needed to follow the include pattern '${pattern}' at ${from.file}:${from.line}`,
      );
    }
    return [pattern];
  };

  const load = (path: string, depth: number, includedFrom?: SourceLocation): void => {
    if (depth >= MAX_INCLUDE_DEPTH) {
      throw new FpmkitParseError('failed to include more than 5 files recursively', {
        source: path,
      });
    }
    const text = read(path);
    const file: FpmSourceFile = {
      path,
      text,
      initialSection: current,
      sectionsAfterInclude: new Map(),
      ...(includedFrom ? { includedFrom } : {}),
    };
    map.files.push(file);
    for (const [i, line] of splitFpmLines(text).entries()) {
      const { statements, syntaxError } = scanFpmLine(line.text, ctx);
      if (syntaxError) {
        throw new FpmkitParseError(syntaxError, { source: path, line: i + 1, lineText: line.text });
      }
      for (const st of statements) {
        if (st.kind === 'section') {
          current = sectionKey(st.name);
          if (current === 'global') map.globalHeader ??= { file: path, line: i + 1 };
          else if (!seenPools.has(current)) {
            seenPools.add(current);
            map.pools.push({ name: st.name, file: path, line: i + 1 });
          }
        }
        map.statements.push({ file: path, line: i + 1, section: current, statement: st });
        if (st.kind === 'entry' && st.name === 'include' && st.value !== null) {
          const from = { file: path, line: i + 1 };
          const raw = st.value;
          const pattern =
            raw.startsWith('/') || raw === ''
              ? raw
              : `${options.prefix ?? DEBIAN_PHP_PREFIX}/${raw}`;
          for (const match of expand(pattern, from)) {
            if (!match.endsWith('/')) load(match, depth + 1, from);
          }
          file.sectionsAfterInclude.set(i + 1, current);
        }
      }
    }
  };
  load(rootPath, 0);
  return map;
}

/** Where a directive of the effective configuration is set. */
export interface FpmDirectiveLocation extends SourceLocation {
  /** Other lines that set it in the same section and that FPM ignores, in load order. */
  shadowed: SourceLocation[];
}

function isSourceMap(source: FpmSourceMap | ParseFpmConfigResult): source is FpmSourceMap {
  return Array.isArray((source as FpmSourceMap).statements);
}

function knownSection(map: FpmSourceMap, section: string, option: string): string {
  const key = sectionKey(section);
  if (key !== 'global' && !map.pools.some((p) => p.name.toLowerCase() === key)) {
    throw new FpmkitInvalidOptionError(
      option,
      `no pool [${section}] in the configuration (pools: ${map.pools.map((p) => p.name).join(', ') || 'none'})`,
    );
  }
  return key;
}

function occurrencesOf(
  map: FpmSourceMap,
  section: string,
  target: FpmEditTarget,
  family: boolean,
): FpmSourceStatement[] {
  const kind = section === 'global' ? 'global' : 'pool';
  return map.statements.filter(
    (s) => s.section === section && statementMatches(s.statement, target, kind, family),
  );
}

/**
 * Finds the line FPM takes a directive's value from: for a scalar the last line that sets it
 * in that section, across every included file; for an array key (`php_value[memory_limit]`,
 * which `php_flag[memory_limit]` also sets) the first. Undefined when nothing sets it.
 *
 * With a `parseFpmConfig` result only scalars can be located (its `locations`); a source map
 * from `mapFpmSources` locates everything and lists the ignored lines too.
 */
export function locateFpmDirective(
  source: FpmSourceMap | ParseFpmConfigResult,
  section: string,
  directive: string,
): FpmDirectiveLocation | undefined {
  const target = resolveFpmEditTarget(section, directive);
  if (!isSourceMap(source)) {
    if (target.kind !== 'scalar') {
      throw new FpmkitInvalidOptionError(
        'directive',
        `'${targetName(target)}' can only be located with a source map from mapFpmSources`,
      );
    }
    if (isGlobalSection(section)) {
      const at = source.locations.global[target.name];
      return at ? { ...at, shadowed: [] } : undefined;
    }
    const index = source.config.pools.findIndex(
      (p) => p.name.toLowerCase() === section.toLowerCase(),
    );
    if (index < 0) {
      throw new FpmkitInvalidOptionError('section', `no pool [${section}] in the configuration`);
    }
    const at = source.locations.pools[index]?.[target.name];
    return at ? { ...at, shadowed: [] } : undefined;
  }
  const key = knownSection(source, section, 'section');
  const all = occurrencesOf(source, key, target, target.kind === 'array');
  if (all.length === 0) return undefined;
  const effective = target.kind === 'scalar' ? all[all.length - 1]! : all[0]!;
  const shadowed = all.filter((s) => s !== effective).map((s) => ({ file: s.file, line: s.line }));
  return { file: effective.file, line: effective.line, shadowed };
}

/** A change of a plan: a change of one file, numbered by the edit's place in the whole list. */
export type FpmPlannedChange = FpmEditChange & {
  /** The file changed; undefined for a removal that found nothing to remove. */
  file: string | undefined;
};

/** One file of an {@link FpmEditPlan}: its path and its text before and after. */
export interface FpmFileEdit {
  path: string;
  before: string;
  after: string;
  changes: FpmPlannedChange[];
}

/** The files an edit plan changes, with their text before and after, ready to write. */
export interface FpmEditPlan {
  /** Each file an edit touched, in load order, with its text before and after. */
  files: FpmFileEdit[];
  /** Every change, in the order of the edits. */
  changes: FpmPlannedChange[];
}

/** Options of {@link planFpmEdits}. */
export interface PlanFpmEditsOptions {
  /** Expands include patterns; with a Map of files the Map's keys are matched. */
  glob?: FpmGlob | undefined;
  /** The global prefix relative includes resolve against. @default '/usr' */
  prefix?: string | undefined;
  /** The master's environment for `${NAME}`. @default {} */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Let values contain `$pool`. @default false */
  allowPoolVariable?: boolean | undefined;
}

/**
 * One glob(3) path component (`*`, `?`, `[...]`, `[!...]`) as regular-expression source; the
 * in-memory glob here and the host's directory glob both match components with it.
 */
export function globComponentSource(part: string): string {
  let re = '';
  for (let i = 0; i < part.length; i++) {
    const c = part[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = part.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let set = part.slice(i + 1, close);
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        re += `[${set.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return re;
}

/** glob(3) over the paths of an in-memory file set: `*`, `?` and `[...]` within one component. */
function mapGlob(files: ReadonlyMap<string, string>): FpmGlob {
  return (pattern) => {
    const re = new RegExp(`^${pattern.split('/').map(globComponentSource).join('/')}$`);
    return [...files.keys()]
      .filter((p) => re.test(p) && !/(^|\/)\.[^/]*$/.test(p.slice(p.lastIndexOf('/'))))
      .sort();
  };
}

/**
 * Plans edits over a configuration that spans several files: each edit goes to the file whose
 * line FPM uses (see `locateFpmDirective`); a directive set nowhere is added to the file that
 * opens the pool's section (for `[global]`, the file with the `[global]` header, else the main
 * file); a removal goes to every file that sets it. Returns the new text of each touched file
 * and what changed; nothing is written.
 *
 * `files` is either a Map of path → text (its keys also serve include patterns) or a function
 * that reads a file. Unknown pools and directives throw `FpmkitInvalidOptionError`.
 */
export function planFpmEdits(
  files: ReadonlyMap<string, string> | FpmReadFile,
  rootPath: string,
  edits: readonly FpmEdit[],
  options: PlanFpmEditsOptions = {},
): FpmEditPlan {
  if (!Array.isArray(edits)) throw new FpmkitInvalidOptionError('edits', 'must be an array');
  const readFile: FpmReadFile =
    typeof files === 'function'
      ? files
      : (path) => {
          const text = files.get(path);
          if (text === undefined) {
            throw Object.assign(new Error(`no such file: ${path}`), { code: 'ENOENT' });
          }
          return text;
        };
  const glob = options.glob ?? (typeof files === 'function' ? undefined : mapGlob(files));
  const env = options.env ?? {};
  const map = mapFpmSources(rootPath, {
    readFile,
    ...(glob ? { glob } : {}),
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    env,
  });
  const perFile = new Map<string, { edit: FpmEdit; index: number }[]>();
  const changes: (FpmPlannedChange | undefined)[] = [];
  const absent: FpmPlannedChange[] = [];
  const add = (path: string, edit: FpmEdit, index: number) => {
    const list = perFile.get(path) ?? [];
    list.push({ edit, index });
    perFile.set(path, list);
  };
  for (const [i, edit] of edits.entries()) {
    if (edit === null || typeof edit !== 'object' || typeof edit.section !== 'string') {
      throw new FpmkitInvalidOptionError(
        `edits[${i}]`,
        'must be { section, directive, value } or { section, directive, remove: true }',
      );
    }
    const target = resolveFpmEditTarget(edit.section, edit.directive, `edits[${i}].directive`);
    const section = knownSection(map, edit.section, `edits[${i}].section`);
    if (edit.remove) {
      const hits = occurrencesOf(map, section, target, false);
      const paths = [...new Set(hits.map((h) => h.file))];
      if (paths.length === 0) {
        absent.push({
          edit: i,
          section: edit.section,
          directive: targetName(target),
          action: 'absent',
          linesBefore: [],
          linesAfter: [],
          file: undefined,
        });
      }
      for (const path of paths) add(path, edit, i);
      continue;
    }
    const hits = target.kind === 'list' ? [] : occurrencesOf(map, section, target, true);
    const effective = target.kind === 'scalar' ? hits[hits.length - 1] : hits[0];
    const holder =
      section === 'global'
        ? (map.globalHeader?.file ?? rootPath)
        : map.pools.find((p) => p.name.toLowerCase() === section)!.file;
    add(effective?.file ?? holder, edit, i);
  }
  const out: FpmFileEdit[] = [];
  for (const file of map.files) {
    const list = perFile.get(file.path);
    if (!list || out.some((f) => f.path === file.path)) continue;
    if (map.files.filter((f) => f.path === file.path).length > 1) {
      throw new FpmkitInvalidOptionError(
        'files',
        `${file.path} is included more than once; an edit there would apply at each place`,
      );
    }
    const editOptions: EditFpmConfigOptions = {
      path: file.path,
      initialSection: file.initialSection,
      sectionsAfterInclude: file.sectionsAfterInclude,
      createSections: file.path === rootPath,
      env,
      ...(options.allowPoolVariable ? { allowPoolVariable: true } : {}),
    };
    const result = editFpmConfig(
      file.text,
      list.map((e) => e.edit),
      editOptions,
    );
    const fileChanges = result.changes.map((c) => ({
      ...c,
      edit: list[c.edit]!.index,
      file: file.path,
    }));
    for (const c of fileChanges) changes[c.edit] ??= c;
    out.push({ path: file.path, before: file.text, after: result.text, changes: fileChanges });
  }
  for (const c of absent) changes[c.edit] = c;
  const all = out.flatMap((f) => f.changes).concat(absent);
  all.sort((a, b) => a.edit - b.edit);
  return { files: out, changes: all };
}
