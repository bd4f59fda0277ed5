// Servers on several Docker engines: one DockerRuntime per engine, every image built on the
// default engine and moved to the others, each target started on the engine its placement names
// (TargetSpec.engine). Stopping stops them all, on every engine.
import { DockerRuntime, type DockerRuntimeOptions } from './docker-runtime';
import type { EngineConnection, ImageMove } from './engine-set';
import type { Runtime, StartedServer, TargetSpec } from './runtime';
import { DEFAULT_ENGINE } from '../scenario/engines';

export class PlacedRuntime implements Runtime {
  readonly kind = 'docker' as const;
  dockerVersion?: string;
  note?: string;
  readonly runtimes = new Map<string, DockerRuntime>();
  /** Every image made present on an engine other than the default one, in order. */
  readonly imageMoves: ImageMove[] = [];

  constructor(
    readonly engines: ReadonlyMap<string, EngineConnection>,
    opts: DockerRuntimeOptions = {},
  ) {
    const home = engines.get(DEFAULT_ENGINE);
    if (!home) throw new Error('forklab: the default engine must be among the engines');
    for (const [name, engine] of engines) {
      this.runtimes.set(
        name,
        new DockerRuntime({
          ...opts,
          engine,
          imageHome: home,
          onImageMove: (m) => {
            this.imageMoves.push(m);
            if (m.moved)
              opts.onNotice?.(
                `forklab: image ${m.tag} moved to engine "${m.engine}" in ${(m.ms / 1000).toFixed(1)} s (${(m.bytes / 1e6).toFixed(0)} MB)`,
              );
          },
        }),
      );
    }
    this.dockerVersion = home.version;
  }

  /** The runtime of one engine. */
  on(engine: string = DEFAULT_ENGINE): DockerRuntime {
    const r = this.runtimes.get(engine);
    if (!r) throw new Error(`forklab: engine "${engine}" is not one of this run's engines`);
    return r;
  }

  /** Every engine's leftovers removed and the image present on each. */
  async prepare(): Promise<void> {
    // The default engine first: the image is built there before it is moved to the others.
    await this.on(DEFAULT_ENGINE).prepare();
    await Promise.all(
      [...this.runtimes].filter(([n]) => n !== DEFAULT_ENGINE).map(([, r]) => r.prepare()),
    );
  }

  start(spec: TargetSpec): Promise<StartedServer[]> {
    return this.on(spec.engine).start(spec);
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.runtimes.values()].map((r) => r.stopAll()));
  }
}
