/** What `load` needs of a database: better-sqlite3's `Database` has it. */
export interface ExtensionLoader {
  loadExtension(path: string, entryPoint?: string): unknown;
}

/** The absolute path of the packaged library (linux-x64, glibc). */
export function getLoadablePath(): string;

/** Loads the message store's functions and readers into `db`'s connection. */
export function load(db: ExtensionLoader): void;
