/**
 * The image's Dockerfile against the repository: it lints clean, its runtime stage starts terwayd
 * with the settings the lab and the benchmarks measure (runtime-settings.ts), and its build stage
 * copies every source the build compiles. No image is built here (no container engine in the test
 * machine's reach); the README says how the image was built and checked by hand.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

import { describe, expect, test } from '@jest/globals';
import { Copy, DockerfileParser, Env, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';

import { TERWAYD_ENV, TERWAYD_NODE_FLAGS } from '../../src/daemon/runtime-settings.js';
import { REPO_ROOT } from '../support/bins.js';
import { IMAGE_INSTALL_CNI, IMAGE_TERWAY_CLI } from '../support/install-cni.js';

const content = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

/** The instructions of each stage, in order; a stage starts at its FROM. */
function stages(): Instruction[][] {
  const result: Instruction[][] = [];
  for (const instruction of DockerfileParser.parse(content).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') result.push([]);
    result.at(-1)?.push(instruction);
  }
  return result;
}

function keyword(stage: Instruction[], name: string): Instruction[] {
  return stage.filter((instruction) => instruction.getKeyword() === name);
}

function copies(stage: Instruction[]): Copy[] {
  return stage.filter((instruction): instruction is Copy => instruction instanceof Copy);
}

/** A COPY's context sources: every argument but the last, for a COPY without --from. */
function contextSources(stage: Instruction[]): string[] {
  // Flags are not among a COPY's arguments: dockerfile-ast gives --from on its own.
  return copies(stage)
    .filter((copy) => copy.getFromFlag() === null)
    .flatMap((copy) =>
      copy
        .getArguments()
        .slice(0, -1)
        .map((argument) => argument.getValue()),
    );
}

const [buildStage = [], runtimeStage = []] = stages();

describe('Dockerfile', () => {
  test('has two stages: the build and the image that runs', () => {
    expect(stages()).toHaveLength(2);
  });

  test('has nothing a Dockerfile linter flags', () => {
    const problems = validate(content).map(
      (diagnostic) => `line ${diagnostic.range.start.line + 1}: ${diagnostic.message}`,
    );
    expect(problems).toEqual([]);
  });

  test('starts terwayd with the Node flags the lab and the benchmarks run it with', () => {
    const entrypoints = keyword(runtimeStage, 'ENTRYPOINT');
    expect(entrypoints).toHaveLength(1);
    const args = JSON.parse(entrypoints[0]!.getArgumentsContent() ?? '') as string[];
    expect(args).toEqual(['node', ...TERWAYD_NODE_FLAGS, '/opt/terway-node/dist/cmd/terwayd.js']);
    expect(existsSync(join(REPO_ROOT, 'cmd', 'terwayd.ts'))).toBe(true);
  });

  test("sets terwayd's environment: the C library's settings and the V8 heap ceiling", () => {
    const env = new Map<string, string | null>();
    for (const instruction of runtimeStage) {
      if (!(instruction instanceof Env)) continue;
      for (const property of instruction.getProperties()) {
        env.set(property.getName(), property.getValue());
      }
    }
    for (const [name, value] of Object.entries(TERWAYD_ENV)) expect(env.get(name)).toBe(value);
  });

  test("puts the install script where the chart's init container runs it", () => {
    const workdirs = keyword(runtimeStage, 'WORKDIR');
    expect(workdirs).toHaveLength(1);
    const copy = copies(runtimeStage).find((instruction) =>
      instruction
        .getArguments()
        .some((argument) => argument.getValue() === '/src/scripts/install-cni.sh'),
    );
    expect(copy?.getFromFlag()?.getValue()).toBe('build');
    const target = copy!.getArguments().at(-1)!.getValue();
    expect(posix.resolve(workdirs[0]!.getArgumentsContent()!, target)).toBe(IMAGE_INSTALL_CNI);
  });

  test("links terway-cli where the chart's probes run it, to the built command", () => {
    const workdir = keyword(runtimeStage, 'WORKDIR')[0]!.getArgumentsContent()!;
    const links = keyword(runtimeStage, 'RUN')
      .map((instruction) => instruction.getArgumentsContent() ?? '')
      .map((command) => /^ln -s (\S+) (\S+)$/.exec(command.trim()))
      .filter((match): match is RegExpExecArray => match !== null);
    const link = links.find((match) => match[2] === IMAGE_TERWAY_CLI);
    expect(link).toBeDefined();
    // The link's target is what the build compiles cmd/terway-cli.ts to, under the WORKDIR.
    expect(link![1]).toBe(posix.join(workdir, 'dist/cmd/terway-cli.js'));
  });

  test('copies every source root the build compiles, and nothing .dockerignore leaves out', () => {
    const copied = contextSources(buildStage);
    const tsconfig = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    const compiledRoots = tsconfig.include.map((glob) => glob.split('/')[0]!);
    for (const root of compiledRoots) expect(copied).toContain(root);
    // What scripts/build.mjs runs besides tsc: the RPC codecs, the BPF object, the addons.
    for (const root of ['scripts', 'proto', 'bpf', 'native', 'package-lock.json']) {
      expect(copied).toContain(root);
    }
    for (const source of copied) {
      expect(existsSync(join(REPO_ROOT, source))).toBe(true);
      expect(dockerignore).not.toContain(source);
    }
  });

  test('keeps local builds and installs out of the context', () => {
    for (const local of ['node_modules', 'dist', 'native/build']) {
      expect(dockerignore).toContain(local);
    }
  });
});
