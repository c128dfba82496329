// @ts-check
// `os` for functions: constant values of the Linux x64 machine the platform runs functions on.
// Nothing here is read from the machine that runs triggerbox: no host name, user, network
// interface, CPU, memory or load figure of the host can reach a function (and from it, its logs
// or results).

const MEMORY = 350 * 1024 * 1024; // the platform's memory limit for one function

const signals = Object.freeze({
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGIOT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGSTKFLT: 16,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
});

const errno = Object.freeze({
  E2BIG: 7,
  EACCES: 13,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  EAGAIN: 11,
  EBADF: 9,
  EBUSY: 16,
  ECONNABORTED: 103,
  ECONNREFUSED: 111,
  ECONNRESET: 104,
  EEXIST: 17,
  EHOSTUNREACH: 113,
  EINTR: 4,
  EINVAL: 22,
  EIO: 5,
  EISDIR: 21,
  EMFILE: 24,
  ENAMETOOLONG: 36,
  ENETUNREACH: 101,
  ENOENT: 2,
  ENOMEM: 12,
  ENOSPC: 28,
  ENOTDIR: 20,
  ENOTEMPTY: 39,
  ENOTSUP: 95,
  EPERM: 1,
  EPIPE: 32,
  ERANGE: 34,
  ETIMEDOUT: 110,
});

const priority = Object.freeze({
  PRIORITY_LOW: 19,
  PRIORITY_BELOW_NORMAL: 10,
  PRIORITY_NORMAL: 0,
  PRIORITY_ABOVE_NORMAL: -7,
  PRIORITY_HIGH: -14,
  PRIORITY_HIGHEST: -20,
});

export function createOs() {
  const started = Date.now();
  return {
    EOL: '\n',
    constants: Object.freeze({ signals, errno, priority, UV_UDP_REUSEADDR: 4 }),
    arch: () => 'x64',
    cpus: () => [],
    endianness: () => 'LE',
    freemem: () => MEMORY,
    getPriority: () => 0,
    homedir: () => '/',
    hostname: () => 'localhost',
    loadavg: () => [0, 0, 0],
    networkInterfaces: () => ({}),
    platform: () => 'linux',
    release: () => '4.14.0',
    setPriority() {
      throw new Error('os.setPriority is not supported by triggerbox: a function has no process');
    },
    tmpdir: () => '/tmp',
    totalmem: () => MEMORY,
    type: () => 'Linux',
    // Seconds since this function's sandbox started: never the host's uptime.
    uptime: () => Math.floor((Date.now() - started) / 1000),
    // The unprivileged `nobody` of Linux: plausible, and never the user running triggerbox.
    userInfo: () => ({ uid: 65534, gid: 65534, username: 'nobody', homedir: '/', shell: null }),
  };
}
