/*
 * Unit tests for the control socket's jobs on a real worker (the fake
 * reactor of daemon_harness.h): a job posted to the worker's slot is run
 * on the worker's loop and wakes the main base when done; sessions lists,
 * kill-user ends exactly that user's allocations and gives everything
 * back; and a banned user is answered 401 by dispatch until the ban ends.
 */
#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control_ban.h"
#include "daemon/control_int.h"
#include "daemon/quota.h"
#include "daemon_harness.h"
#include "stun/msg.h"

/* The main base and a flag its done event sets. */
struct main_side {
	struct event_base *base;
	bool done;
};

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	((struct main_side *)arg)->done = true;
}

/* A job of kind for user (NULL: all), run on h's worker through its slot;
 * the caller frees it. */
static struct control_job *run_job(struct dh *h, enum control_job_kind kind, const char *user)
{
	struct main_side m = {event_base_new(), false};
	struct control_slot slot;
	struct control_job *job = calloc(1, sizeof(*job));

	ck_assert_ptr_nonnull(m.base);
	ck_assert_ptr_nonnull(job);
	job->kind = kind;
	job->user = user ? strdup(user) : NULL;
	job->n_parts = 1;
	job->parts = calloc(1, sizeof(*job->parts));
	job->done_ev = event_new(m.base, -1, 0, on_done, &m);
	atomic_init(&job->pending, 1);
	ck_assert_int_eq(control_slot_init(&slot, h->w), 0);
	control_slot_post(&slot, job);
	ck_assert(!m.done);
	dh_loop_once(h); /* the worker takes it between two events */
	event_base_loop(m.base, EVLOOP_NONBLOCK);
	ck_assert(m.done);
	ck_assert_uint_eq(atomic_load(&job->pending), 0);
	control_slot_fini(&slot);
	event_free(job->done_ev);
	job->done_ev = NULL;
	event_base_free(m.base);
	return job;
}

START_TEST(sessions_then_kill_user)
{
	struct dh h;
	struct dh_client a1, a2, b;
	struct dh_path p;

	evthread_use_pthreads();
	dh_up(&h, NULL, false);
	dh_path_init(&p, NET_PATH_UDP);
	dh_client_init(&a1, &h, "alice", 4001);
	dh_client_init(&a2, &h, "alice", 4002);
	dh_client_init(&b, &h, "bob", 4003);
	ck_assert_int_eq(dh_allocate(&a1, &p, 0), 0);
	ck_assert_int_eq(dh_allocate(&a2, &p, 0), 0);
	ck_assert_int_eq(dh_allocate(&b, &p, 0), 0);

	struct control_job *job = run_job(&h, CONTROL_JOB_SESSIONS, "alice");
	ck_assert_uint_eq(job->parts[0].count, 2);
	ck_assert_ptr_nonnull(strstr(job->parts[0].sessions.buf, "\"user\":\"alice\""));
	ck_assert_ptr_null(strstr(job->parts[0].sessions.buf, "bob"));
	ck_assert_ptr_nonnull(strstr(job->parts[0].sessions.buf, "\"id\":\"0-"));
	control_job_free(job);

	job = run_job(&h, CONTROL_JOB_USERS, NULL);
	ck_assert_uint_eq(job->parts[0].n_usage, 3);
	struct json_out o = {0};
	control_users_answer(job, &o);
	ck_assert_ptr_nonnull(strstr(o.buf, "{\"user\":\"alice\",\"allocations\":2,"));
	ck_assert_ptr_nonnull(strstr(o.buf, "{\"user\":\"bob\",\"allocations\":1,"));
	json_out_free(&o);
	control_job_free(job);

	job = run_job(&h, CONTROL_JOB_KILL_USER, "alice");
	ck_assert_uint_eq(job->parts[0].count, 2);
	control_job_free(job);
	/* Exactly alice's: their quota back, bob's allocation on. */
	ck_assert_uint_eq(turn_server_stats(h.w->srv)->allocations, 1);
	ck_assert_uint_eq(quota_total(&h.quota), 1);
	job = run_job(&h, CONTROL_JOB_SESSIONS, NULL);
	ck_assert_uint_eq(job->parts[0].count, 1);
	ck_assert_ptr_nonnull(strstr(job->parts[0].sessions.buf, "\"user\":\"bob\""));
	control_job_free(job);
	dh_down(&h);
}
END_TEST

START_TEST(banned_user_gets_401_until_the_ban_ends)
{
	struct dh h;
	struct dh_client a, b;
	struct dh_path p;
	struct control_ban ban;

	control_ban_init(&ban);
	dh_up(&h, NULL, false);
	h.w->ban = &ban;
	dh_path_init(&p, NET_PATH_UDP);
	dh_client_init(&a, &h, "alice", 4001);
	dh_client_init(&b, &h, "bob", 4002);
	uint64_t now = io_clock_ms(h.w->clock);
	ck_assert_int_eq(control_ban_add(&ban, "alice", now + 5000, now), 0);
	/* The credential is right, the answer is that of one not known. */
	ck_assert_int_eq(dh_allocate(&a, &p, 0), 401);
	ck_assert_int_eq(dh_allocate(&b, &p, 0), 0);
	dh_advance(&h, 5000);
	ck_assert_int_eq(dh_allocate(&a, &p, 0), 0);
	ck_assert_uint_eq(quota_total(&h.quota), 2);
	dh_down(&h);
	control_ban_fini(&ban);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control_jobs");
	TCase *tc = tcase_create("jobs");

	tcase_add_test(tc, sessions_then_kill_user);
	tcase_add_test(tc, banned_user_gets_401_until_the_ban_ends);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
