/*
 * The pid file. turnd writes it as root, before dropping privileges, into
 * a directory an operator chose, so it must not become a way to write or
 * remove files elsewhere: a symlink at the path is never followed
 * (O_NOFOLLOW, O_EXCL, and everything relative to the directory's
 * descriptor), and a directory that others may write to without the
 * sticky bit, or that someone other than root or the service user owns,
 * is refused. At stop, the process (by then the service user) removes the
 * file only if its name still refers to the file it wrote.
 */
#include "daemon/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Split path into its directory and name (a copy the caller frees). */
static int split_path(const char *path, char **dir, char **name)
{
	const char *slash = strrchr(path, '/');

	if (slash && slash[1] == '\0')
		return -1; /* names a directory */
	*name = strdup(slash ? slash + 1 : path);
	if (!slash)
		*dir = strdup(".");
	else
		*dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	if (!*name || !*dir || !**name || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0) {
		free(*name);
		free(*dir);
		return -1;
	}
	return 0;
}

static bool trusted_uid(uid_t uid, const struct pid_file_owner *owner)
{
	return uid == 0 || uid == geteuid() || (owner->has_owner && uid == owner->uid);
}

/* The directory: owned by root, us or the service user, and not open to
 * everyone's writes unless sticky (where only a file's owner removes it). */
static int check_dir(int dir_fd, const char *dir, const struct pid_file_owner *owner, char *err,
		     size_t errlen)
{
	struct stat st;

	if (fstat(dir_fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!trusted_uid(st.st_uid, owner)) {
		snprintf(err, errlen, "directory %s belongs to uid %ld, not root or the service user", dir,
			 (long)st.st_uid);
		return -1;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "directory %s is writable by everyone and not sticky", dir);
		return -1;
	}
	return 0;
}

/* Does the pid in the file name a running turnd? */
static bool names_running_turnd(int fd)
{
	char buf[32], comm_path[64], comm[32] = "";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	long pid;
	char *end;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || pid <= 0 || pid == (long)getpid() || (*end && *end != '\n'))
		return false;
	if (kill((pid_t)pid, 0) < 0 && errno != EPERM)
		return false; /* gone: the file is stale */
	/* Alive, but a pid is reused: only another turnd counts. */
	snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm", pid);
	FILE *f = fopen(comm_path, "r");
	if (!f)
		return true; /* cannot tell: assume it is */
	bool turnd = fgets(comm, sizeof(comm), f) && strncmp(comm, "turnd", 5) == 0;
	fclose(f);
	return turnd;
}

/* What is at the name already: a stale pid file of ours is removed (0);
 * anything else is refused (-1). */
static int clear_existing(int dir_fd, const char *name, const char *path,
			  const struct pid_file_owner *owner, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0; /* gone meanwhile: try again */
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is %s; not following or replacing it", path,
			 S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
		return -1;
	}
	if (!trusted_uid(st.st_uid, owner)) {
		snprintf(err, errlen, "%s exists and belongs to uid %ld", path, (long)st.st_uid);
		return -1;
	}
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	bool running = names_running_turnd(fd);
	close(fd);
	if (running) {
		snprintf(err, errlen, "%s names a turnd that is running", path);
		return -1;
	}
	if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove the stale file: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int create_file(struct pid_file *pf, const struct pid_file_owner *owner, char *err,
		       size_t errlen)
{
	char text[32];
	int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());

	for (int tries = 0; tries < 2; tries++) {
		pf->fd = openat(pf->dir_fd, pf->name,
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (pf->fd >= 0 || errno != EEXIST)
			break;
		if (clear_existing(pf->dir_fd, pf->name, pf->path, owner, err, errlen) < 0)
			return -1;
	}
	if (pf->fd < 0) {
		snprintf(err, errlen, "%s: %s", pf->path, strerror(errno));
		return -1;
	}
	/* The service user may then remove it from a sticky directory. */
	if ((owner->has_owner && fchown(pf->fd, owner->uid, owner->gid) < 0) ||
	    write(pf->fd, text, (size_t)len) != len) {
		snprintf(err, errlen, "%s: %s", pf->path, strerror(errno));
		unlinkat(pf->dir_fd, pf->name, 0);
		return -1;
	}
	return 0;
}

int pid_file_write(struct pid_file *pf, const char *path, const struct pid_file_owner *owner,
		   char *err, size_t errlen)
{
	char *dir = NULL;

	*pf = (struct pid_file){ .dir_fd = -1, .fd = -1, .path = path };
	if (split_path(path, &dir, &pf->name) < 0) {
		snprintf(err, errlen, "%s: not a file name", path);
		return -1;
	}
	/* Symlinks in the directory's own path are the operator's (/var/run
	 * is one); only the last component is never followed. */
	pf->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = -1;
	if (pf->dir_fd < 0)
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
	else if (check_dir(pf->dir_fd, dir, owner, err, errlen) == 0)
		rc = create_file(pf, owner, err, errlen);
	free(dir);
	if (rc < 0) {
		char ignored[1];
		pid_file_remove(pf, ignored, 0);
		return -1;
	}
	return 0;
}

bool pid_file_removal_warning(const struct pid_file *pf, const struct pid_file_owner *owner,
			      char *msg, size_t msglen)
{
	struct stat st;

	if (!owner->has_owner || owner->uid == 0 || fstat(pf->dir_fd, &st) < 0)
		return false;
	/* Removing a name takes write and search permission on the
	 * directory; in a sticky one the file is the owner's (create_file). */
	bool w = st.st_uid == owner->uid   ? (st.st_mode & S_IWUSR) && (st.st_mode & S_IXUSR)
		 : st.st_gid == owner->gid ? (st.st_mode & S_IWGRP) && (st.st_mode & S_IXGRP)
					   : (st.st_mode & S_IWOTH) && (st.st_mode & S_IXOTH);
	if (w)
		return false;
	snprintf(msg, msglen,
		 "pid-file %s: user '%s' cannot remove it from its directory at stop (it will be "
		 "emptied instead); put it in a directory that user owns, such as systemd's "
		 "RuntimeDirectory",
		 pf->path, owner->user);
	return true;
}

int pid_file_remove(struct pid_file *pf, char *err, size_t errlen)
{
	struct stat ours, now;
	int rc = 0;

	if (pf->fd >= 0 && fstat(pf->fd, &ours) == 0 &&
	    fstatat(pf->dir_fd, pf->name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    ours.st_dev == now.st_dev && ours.st_ino == now.st_ino &&
	    unlinkat(pf->dir_fd, pf->name, 0) < 0) {
		snprintf(err, errlen, "pid-file %s: cannot remove it (%s); emptied it", pf->path,
			 strerror(errno));
		if (ftruncate(pf->fd, 0) < 0)
			snprintf(err, errlen, "pid-file %s: cannot remove or empty it: %s", pf->path,
				 strerror(errno));
		rc = -1;
	}
	if (pf->fd >= 0)
		close(pf->fd);
	if (pf->dir_fd >= 0)
		close(pf->dir_fd);
	free(pf->name);
	*pf = (struct pid_file){ .dir_fd = -1, .fd = -1 };
	return rc;
}
