/**
 * What PHP, PHP-FPM, nginx, Apache and Linux do when a setting is absent, each named once with
 * where the value comes from. fpmkit falls back to these wherever a configuration leaves a
 * setting out; the public names of the areas (`fpmkit/doctor`, `fpmkit/sizing`, ...) are
 * re-exports of these. php-src paths are those of PHP 8.2.
 */

const MiB = 1024 * 1024;

// PHP (php.ini built-in values: PHP_INI_ENTRY lines in main/main.c unless said otherwise)

/** PHP's built-in `max_execution_time`, seconds (main/main.c); the CLI forces 0, FPM keeps 30. */
export const PHP_DEFAULT_MAX_EXECUTION_TIME_SECONDS = 30;
/** PHP's built-in `memory_limit` (128M), bytes (main/main.c). */
export const PHP_DEFAULT_MEMORY_LIMIT_BYTES = 128 * MiB;
/** PHP's built-in `post_max_size` (8M), bytes (main/main.c). */
export const PHP_DEFAULT_POST_MAX_SIZE_BYTES = 8 * MiB;
/** PHP's built-in `upload_max_filesize` (2M), bytes (main/main.c). */
export const PHP_DEFAULT_UPLOAD_MAX_FILESIZE_BYTES = 2 * MiB;
/** OPcache's built-in `opcache.memory_consumption`, MiB (ext/opcache/zend_accelerator_module.c). */
export const OPCACHE_DEFAULT_MEMORY_MEGABYTES = 128;
/**
 * OPcache's built-in `opcache.interned_strings_buffer`, MiB
 * (ext/opcache/zend_accelerator_module.c).
 */
export const OPCACHE_DEFAULT_INTERNED_STRINGS_MEGABYTES = 8;

// PHP-FPM (sapi/fpm/fpm/)

/** FPM's `access.format` when a pool sets `access.log` without one (fpm_conf.c). */
export const FPM_DEFAULT_ACCESS_FORMAT = '%R - %u %t "%m %r" %s';
/** FPM's `listen.backlog` on Linux (`FPM_BACKLOG_DEFAULT`, fpm_sockets.h): -1, i.e. somaxconn. */
export const FPM_DEFAULT_LISTEN_BACKLOG = -1;
/** FPM's `pm.max_spawn_rate`, children per second (fpm_conf.c). */
export const FPM_DEFAULT_MAX_SPAWN_RATE = 32;
/** FPM's `pm.process_idle_timeout`, seconds (fpm_conf.c); FPM rejects values below 1 s. */
export const FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS = 10;
/** FPM's `systemd_interval`, seconds (`FPM_SYSTEMD_DEFAULT_HEARTBEAT`, 10000 ms, fpm_systemd.h). */
export const FPM_DEFAULT_SYSTEMD_INTERVAL_SECONDS = 10;
/** FPM's `ping.response` (fpm_conf.c). */
export const FPM_DEFAULT_PING_RESPONSE = 'pong';

// nginx (https://nginx.org/en/docs/, the module named on each)

/**
 * nginx's `fastcgi_buffer_size` and the size of each of `fastcgi_buffers`: one memory page,
 * 4k on x86-64 Linux (ngx_http_fastcgi_module).
 */
export const NGINX_DEFAULT_BUFFER_BYTES = 4096;
/** nginx's number of `fastcgi_buffers` (ngx_http_fastcgi_module: `fastcgi_buffers 8 4k|8k`). */
export const NGINX_DEFAULT_BUFFER_COUNT = 8;
/** nginx's `fastcgi_read_timeout`, seconds (ngx_http_fastcgi_module: 60s). */
export const NGINX_DEFAULT_FASTCGI_READ_TIMEOUT_SECONDS = 60;
/** nginx's `client_max_body_size` (1m), bytes (ngx_http_core_module). */
export const NGINX_DEFAULT_CLIENT_MAX_BODY_SIZE_BYTES = 1 * MiB;
/** nginx's upstream `keepalive_timeout`, seconds (ngx_http_upstream_module: 60s). */
export const NGINX_DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS = 60;

// Apache httpd (https://httpd.apache.org/docs/2.4/, the module named on each)

/** Apache's `Timeout`, seconds (core: 60). */
export const APACHE_DEFAULT_TIMEOUT_SECONDS = 60;
/** mpm_event's defaults when a directive is absent (mpm_common, event.c). */
export const APACHE_EVENT_DEFAULTS = {
  serverLimit: 16,
  threadLimit: 64,
  threadsPerChild: 25,
  minSpareThreads: 75,
  maxSpareThreads: 250,
} as const;
/**
 * mpm_event's `MaxRequestWorkers` when none is set: 16 x 25 (`ServerLimit` x `ThreadsPerChild`),
 * lowered to ServerLimit x ThreadsPerChild when those are smaller.
 */
export const APACHE_DEFAULT_MAX_REQUEST_WORKERS =
  APACHE_EVENT_DEFAULTS.serverLimit * APACHE_EVENT_DEFAULTS.threadsPerChild;

// Linux

/** `net.core.somaxconn` (`SOMAXCONN`, include/linux/socket.h) since Linux 5.4. */
export const LINUX_DEFAULT_SOMAXCONN = 4096;
/** `SOMAXCONN` before Linux 5.4. */
export const LINUX_LEGACY_SOMAXCONN = 128;
