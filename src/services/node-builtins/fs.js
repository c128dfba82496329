// @ts-check
// `fs` for functions. The platform's fs has accessSync, constants, lstatSync, readFileSync and
// statSync (docs-app-services javascript-support.txt). Locally they operate on nothing: every
// path is missing, as Node reports a missing file (ENOENT). Reading real files would let a
// function read the machine it runs on (the app folder holds .env and the secret store's key
// file), and would make functions depend on local files the deployed app never has.

/** Linux values of Node 10's fs.constants. */
const constants = Object.freeze({
  UV_FS_SYMLINK_DIR: 1,
  UV_FS_SYMLINK_JUNCTION: 2,
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  UV_DIRENT_UNKNOWN: 0,
  UV_DIRENT_FILE: 1,
  UV_DIRENT_DIR: 2,
  UV_DIRENT_LINK: 3,
  UV_DIRENT_FIFO: 4,
  UV_DIRENT_SOCKET: 5,
  UV_DIRENT_CHAR: 6,
  UV_DIRENT_BLOCK: 7,
  S_IFMT: 61440,
  S_IFREG: 32768,
  S_IFDIR: 16384,
  S_IFCHR: 8192,
  S_IFBLK: 24576,
  S_IFIFO: 4096,
  S_IFLNK: 40960,
  S_IFSOCK: 49152,
  O_CREAT: 64,
  O_EXCL: 128,
  UV_FS_O_FILEMAP: 0,
  O_NOCTTY: 256,
  O_TRUNC: 512,
  O_APPEND: 1024,
  O_DIRECTORY: 65536,
  O_NOATIME: 262144,
  O_NOFOLLOW: 131072,
  O_SYNC: 1052672,
  O_DSYNC: 4096,
  O_DIRECT: 16384,
  O_NONBLOCK: 2048,
  S_IRWXU: 448,
  S_IRUSR: 256,
  S_IWUSR: 128,
  S_IXUSR: 64,
  S_IRWXG: 56,
  S_IRGRP: 32,
  S_IWGRP: 16,
  S_IXGRP: 8,
  S_IRWXO: 7,
  S_IROTH: 4,
  S_IWOTH: 2,
  S_IXOTH: 1,
  F_OK: 0,
  R_OK: 4,
  W_OK: 2,
  X_OK: 1,
  UV_FS_COPYFILE_EXCL: 1,
  COPYFILE_EXCL: 1,
  UV_FS_COPYFILE_FICLONE: 2,
  COPYFILE_FICLONE: 2,
  UV_FS_COPYFILE_FICLONE_FORCE: 4,
  COPYFILE_FICLONE_FORCE: 4,
});

// The rest of Node 10's fs: present, so that a function learns why it cannot use them.
const OTHER_FUNCTIONS = [
  'access',
  'appendFile',
  'appendFileSync',
  'chmod',
  'chmodSync',
  'chown',
  'chownSync',
  'close',
  'closeSync',
  'copyFile',
  'copyFileSync',
  'createReadStream',
  'createWriteStream',
  'exists',
  'existsSync',
  'fchmod',
  'fchmodSync',
  'fchown',
  'fchownSync',
  'fdatasync',
  'fdatasyncSync',
  'fstat',
  'fstatSync',
  'fsync',
  'fsyncSync',
  'ftruncate',
  'ftruncateSync',
  'futimes',
  'futimesSync',
  'lchown',
  'lchownSync',
  'link',
  'linkSync',
  'lstat',
  'mkdir',
  'mkdirSync',
  'mkdtemp',
  'mkdtempSync',
  'open',
  'openSync',
  'read',
  'readSync',
  'readdir',
  'readdirSync',
  'readFile',
  'readlink',
  'readlinkSync',
  'realpath',
  'realpathSync',
  'rename',
  'renameSync',
  'rmdir',
  'rmdirSync',
  'stat',
  'symlink',
  'symlinkSync',
  'truncate',
  'truncateSync',
  'unlink',
  'unlinkSync',
  'unwatchFile',
  'utimes',
  'utimesSync',
  'watch',
  'watchFile',
  'write',
  'writeFile',
  'writeFileSync',
  'writeSync',
];

/**
 * @param {(value: unknown) => boolean} isBuffer
 */
export function createFs(isBuffer) {
  /**
   * @param {unknown} path
   * @returns {string}
   */
  function pathString(path) {
    if (typeof path === 'string') return path;
    if (isBuffer(path)) return String(path);
    if (
      path !== null &&
      typeof path === 'object' &&
      typeof (/** @type {any} */ (path).href) === 'string' &&
      /** @type {any} */ (path).protocol === 'file:'
    ) {
      return decodeURIComponent(/** @type {any} */ (path).pathname);
    }
    throw new TypeError(
      `The "path" argument must be one of type string, Buffer, or URL. Received type ${path === null ? 'null' : typeof path}`,
    );
  }
  /**
   * @param {string} syscall
   * @param {unknown} path
   */
  function missing(syscall, path) {
    const where = pathString(path);
    const error = /** @type {Error & Record<string, unknown>} */ (
      new Error(`ENOENT: no such file or directory, ${syscall} '${where}'`)
    );
    error.errno = -2;
    error.code = 'ENOENT';
    error.syscall = syscall;
    error.path = where;
    throw error;
  }
  /** @type {Record<string, unknown>} */
  const fs = {
    constants,
    F_OK: 0,
    R_OK: 4,
    W_OK: 2,
    X_OK: 1,
    accessSync: (/** @type {unknown} */ path) => missing('access', path),
    lstatSync: (/** @type {unknown} */ path) => missing('lstat', path),
    statSync: (/** @type {unknown} */ path) => missing('stat', path),
    readFileSync: (/** @type {unknown} */ path) => missing('open', path),
  };
  for (const name of OTHER_FUNCTIONS) {
    fs[name] = () => {
      throw new Error(
        `fs.${name} is not supported by App Services functions (their fs has only accessSync, constants, lstatSync, readFileSync and statSync)`,
      );
    };
  }
  return fs;
}
