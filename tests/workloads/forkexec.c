/*
 * forkexec - a parent that does no work of its own and runs children that
 * do, as make does: each child is forked and execs a program (childwork),
 * two at a time.
 *
 * usage: forkexec PROGRAM CPU_SECONDS CHILDREN [--wait [--early]]
 *   Runs CHILDREN children `PROGRAM CPU_SECONDS`, at most two at once, and
 *   waits for them. With --wait it forks nothing until SIGUSR1 (so that a
 *   profiler can attach first), and prints "forkexec: waiting" once ready;
 *   with --early one more child is forked and exec'd before that wait, as
 *   `PROGRAM CPU_SECONDS --wait`, and released by the same SIGUSR1: a child
 *   that exists before the profiler attaches. At the end it prints
 *   "forkexec: N children, children cpu SECONDS, own cpu SECONDS": the CPU
 *   time of every child it waited for (getrusage RUSAGE_CHILDREN), and its
 *   own. alarm(120) ends it if anything hangs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static pid_t start(const char *prog, const char *cpu, bool wait_flag)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (wait_flag)
			execl(prog, prog, cpu, "--wait", (char *)NULL);
		else
			execl(prog, prog, cpu, (char *)NULL);
		perror("forkexec: exec");
		_exit(127);
	}
	if (pid < 0)
		perror("forkexec: fork");
	return pid;
}

static double secs(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	bool wait_go = false, early = false;
	int n, running = 0, started = 0, done = 0, status;
	pid_t early_pid = 0;
	sigset_t mask, old;
	struct rusage kids, self;

	if (argc < 4 || (n = atoi(argv[3])) < 1 || n > 1000 || atof(argv[2]) <= 0) {
		fprintf(stderr, "usage: forkexec PROGRAM CPU_SECONDS CHILDREN [--wait [--early]]\n");
		return 64;
	}
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--wait") == 0)
			wait_go = true;
		else if (strcmp(argv[i], "--early") == 0 && wait_go)
			early = true;
		else {
			fprintf(stderr, "forkexec: unknown option %s\n", argv[i]);
			return 64;
		}
	}
	alarm(120);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (wait_go) {
		sigemptyset(&mask);
		sigaddset(&mask, SIGUSR1);
		sigprocmask(SIG_BLOCK, &mask, &old);
		signal(SIGUSR1, on_usr1);
		if (early && (early_pid = start(argv[1], argv[2], true)) < 0)
			return 1;
		printf("forkexec: waiting\n");
		/* Whatever mask we inherited (exec keeps it), wait with
		 * SIGUSR1 open. */
		sigset_t open_mask = old;

		sigdelset(&open_mask, SIGUSR1);
		while (!go)
			sigsuspend(&open_mask);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (early_pid > 0) {
			kill(early_pid, SIGUSR1);
			running++;
		}
	}
	while (done < n + (early_pid > 0)) {
		while (started < n && running < 2) {
			if (start(argv[1], argv[2], false) < 0)
				return 1;
			started++;
			running++;
		}
		if (wait(&status) < 0) {
			perror("forkexec: wait");
			return 1;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "forkexec: a child failed (status 0x%x)\n", status);
			return 1;
		}
		running--;
		done++;
	}
	getrusage(RUSAGE_CHILDREN, &kids);
	getrusage(RUSAGE_SELF, &self);
	printf("forkexec: %d children, children cpu %.3f, own cpu %.3f\n", done,
	       secs(kids.ru_utime) + secs(kids.ru_stime),
	       secs(self.ru_utime) + secs(self.ru_stime));
	return 0;
}
