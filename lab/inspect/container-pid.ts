// The host pid of a container's first process (State.Pid). The lab runs as root in the host's pid
// namespace, so /proc/<that pid> and its children are the container's processes.
import { connectDocker } from '../runtime/docker-engine';

/** Resolves a container id or name to its main process's host pid; throws with the reason. */
export async function containerPid(idOrName: string): Promise<number> {
  let info: { State: { Running: boolean; Pid: number; Status: string }; Name: string };
  try {
    info = await connectDocker().getContainer(idOrName).inspect();
  } catch (err) {
    throw new Error(`container ${JSON.stringify(idOrName)}: ${(err as Error).message}`);
  }
  if (!info.State.Running || info.State.Pid <= 0) {
    throw new Error(
      `container ${info.Name.replace(/^\//, '')} is not running (${info.State.Status})`,
    );
  }
  return info.State.Pid;
}
