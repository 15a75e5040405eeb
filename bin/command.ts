// What every `drover` subcommand is: a name, a one-line summary for `drover --help`, its own
// usage for `drover NAME --help`, and run(), which resolves to the exit code.
// Exit codes: 0 done; 1 the thing asked for failed (the hub said no, a task failed, the hub is
// away); 2 usage (a bad flag, a missing argument, a request the hub found malformed) or auth
// (the hub refused the token).

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

/** A mistake in how the command was called: its message and the command's usage go to stderr, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
