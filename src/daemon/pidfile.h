/*
 * The pid file (pid-file), written while turnd may still be root and
 * removed by the process after the privilege drop (pidfile.c).
 */
#ifndef TURND_DAEMON_PIDFILE_H
#define TURND_DAEMON_PIDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pid_file {
	int dir_fd;   /* the directory it lives in */
	int fd;       /* the file itself, kept to recognise it at removal */
	char *name;   /* its name in that directory */
	const char *path; /* as configured, for messages (the caller's) */
};

/* Who the process becomes after writing it (proc-user, proc-group);
 * has_owner false: it stays who it is. */
struct pid_file_owner {
	bool has_owner;
	uid_t uid;
	gid_t gid;
	const char *user; /* for messages */
};

/*
 * Create path holding our pid, without following a symlink at path and
 * only in a directory that others cannot tamper with. A file left by a
 * turnd that is gone is replaced; a running turnd's, a symlink, or a file
 * owned by someone else is refused. The file is given to owner, so that a
 * sticky directory lets the process remove it after the drop. Returns 0
 * with pf filled (pid_file_remove), or -1 with err set.
 */
int pid_file_write(struct pid_file *pf, const char *path, const struct pid_file_owner *owner,
		   char *err, size_t errlen);

/* Will owner be unable to remove pf at stop (the directory does not let
 * it)? Then msg says so and what to do. */
bool pid_file_removal_warning(const struct pid_file *pf, const struct pid_file_owner *owner,
			      char *msg, size_t msglen);

/* At stop: remove the file if the name still refers to the one we wrote;
 * when the directory does not allow it, empty it so that no stale pid
 * remains. Returns 0, or -1 with err set. Closes everything either way. */
int pid_file_remove(struct pid_file *pf, char *err, size_t errlen);

#endif
