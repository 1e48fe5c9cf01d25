/* train/durable.h: crash-safe file replacement for checkpoints. A file is written under a
 * temporary name in the target's folder, fsync'ed, renamed over the target (atomic on POSIX
 * file systems) and the folder fsync'ed, so after a crash the target holds either the old or the
 * new complete file, never a mix.
 *
 * Errors: non-zero return + one line in err naming the file and the system error.
 */
#ifndef EF_TRAIN_DURABLE_H
#define EF_TRAIN_DURABLE_H

#include <stddef.h>

#define EF_DURABLE_TMP_TAG ".tmp-" /* temporary names are <target>.tmp-<pid> */

/* Write n bytes as the new content of target: into "<target>.tmp-<pid>", fsync, close, rename,
 * fsync the folder. On failure (disk full, file size limit, unwritable folder, ...) the
 * temporary file is removed, target keeps its previous content, and err says so. */
int ef_durable_write(const char *target, const void *buf, size_t n, char *err, size_t errlen);

/* Temporary name for target: "<target>.tmp-<pid>", malloc'd (NULL when out of memory). */
char *ef_durable_tmp_path(const char *target);
/* fsync the folder that holds path (the folder part of path, "." when there is none), so a
 * rename or link inside it survives a crash. */
int ef_durable_sync_parent(const char *path, char *err, size_t errlen);
/* Put the complete, fsync'ed file tmp in place as target: rename, then fsync the folder. On
 * failure tmp is removed and target is untouched (unless the folder sync failed after the
 * rename: then target is the new file, possibly not yet durable, and the message says so). */
int ef_durable_commit(const char *tmp, const char *target, char *err, size_t errlen);
/* Make target a durable copy of the finished file src (same folder): hard-link src to a
 * temporary name and rename it over target; when the file system refuses hard links, copy the
 * bytes to the temporary name and fsync it instead. Target is replaced atomically either way.
 * Does not sync the folder (call ef_durable_sync_parent once after a batch of these). */
int ef_durable_publish(const char *src, const char *target, char *err, size_t errlen);

#endif
