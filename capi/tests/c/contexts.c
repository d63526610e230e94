/*
 * contexts: a live handle never makes another thread's call wait while a context is free.
 *
 *   1. Two threads pinned to one CPU: A submits and keeps its handle, then B (same CPU, so
 *      the same first-choice context) makes a blocking call; B finishes, then A waits.
 *   2. Two threads each hold a handle, then each makes a blocking call; both finish.
 *   3. Every context held by a live handle: a blocking call returns -EDEADLK at once.
 *
 * Exit status 0 when all hold; an alarm ends a hang with status 3.
 *
 *   cc contexts.c $(pkg-config --cflags --libs iaa-static) -pthread -o contexts && ./contexts
 */
#define _GNU_SOURCE
#include <iaa.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define UNITS 8
#define PAGE 4096

struct batch {
    unsigned char in[UNITS][PAGE];
    unsigned char out[UNITS][PAGE];
    const void *src[UNITS];
    void *dst[UNITS];
    size_t lens[UNITS];
    size_t caps[UNITS];
    int32_t res[UNITS];
};

static void fill(struct batch *b, int seed)
{
    int u, i;
    for (u = 0; u < UNITS; u++) {
        for (i = 0; i < PAGE; i++)
            b->in[u][i] = (unsigned char)("context words "[(i + u + seed) % 14]);
        b->src[u] = b->in[u];
        b->dst[u] = b->out[u];
        b->lens[u] = PAGE;
        b->caps[u] = PAGE;
    }
}

static int blocking_call(iaa_pool *pool, struct batch *b)
{
    return iaa_compress_units(pool, b->src, b->lens, b->dst, b->caps, UNITS, b->res, UNITS, NULL,
                              NULL);
}

static int submit(iaa_pool *pool, struct batch *b, iaa_handle **h)
{
    return iaa_submit_compress_units(pool, b->src, b->lens, b->dst, b->caps, UNITS, b->res, UNITS,
                                     NULL, h);
}

static void pin_cpu0(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static iaa_pool *pool;
static pthread_barrier_t barrier;
static int failures;

static void check(const char *what, int rc, int want)
{
    if (rc != want) {
        fprintf(stderr, "%s: %d (%s), want %d\n", what, rc, iaa_strerror(rc), want);
        failures++;
    }
}

/* Scenario 1: A holds a handle across B's blocking call on the same CPU. */
static void *holder(void *arg)
{
    static struct batch b;
    iaa_handle *h = NULL;
    (void)arg;
    pin_cpu0();
    fill(&b, 1);
    check("1: submit", submit(pool, &b, &h), 0);
    pthread_barrier_wait(&barrier); /* B may call now */
    pthread_barrier_wait(&barrier); /* B's call has returned */
    check("1: wait", iaa_handle_wait(h, NULL), 0);
    return NULL;
}

static void *caller(void *arg)
{
    static struct batch b;
    (void)arg;
    pin_cpu0();
    fill(&b, 2);
    pthread_barrier_wait(&barrier);
    check("1: blocking call beside a live handle", blocking_call(pool, &b), 0);
    pthread_barrier_wait(&barrier);
    return NULL;
}

/* Scenario 2: both threads hold a handle, then both make a blocking call. */
static void *both(void *arg)
{
    struct batch *b = arg;
    static struct batch extra[2];
    iaa_handle *h = NULL;
    int me = b == &extra[0] ? 0 : 1;
    struct batch mine;
    pin_cpu0();
    fill(&mine, 10 + me);
    check("2: submit", submit(pool, &mine, &h), 0);
    pthread_barrier_wait(&barrier); /* both handles are live */
    fill(b, 20 + me);
    check("2: blocking call while both hold handles", blocking_call(pool, b), 0);
    pthread_barrier_wait(&barrier);
    check("2: wait", iaa_handle_wait(h, NULL), 0);
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "contexts: hung (a call waited on a held context)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(3);
}

int main(void)
{
    iaa_config cfg;
    pthread_t a, b;
    static struct batch two[2], all[3], one;
    iaa_handle *h[2] = {NULL, NULL};
    int i;
    signal(SIGALRM, on_alarm);
    alarm(60);

    iaa_config_init(&cfg);
    cfg.path = IAA_PATH_SOFTWARE;
    cfg.contexts = 4;
    check("pool", iaa_pool_create(&cfg, &pool), 0);

    pthread_barrier_init(&barrier, NULL, 2);
    pthread_create(&a, NULL, holder, NULL);
    pthread_create(&b, NULL, caller, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);

    pthread_create(&a, NULL, both, &two[0]);
    pthread_create(&b, NULL, both, &two[1]);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    iaa_pool_destroy(pool);

    /* Scenario 3: two contexts, both held by this thread's handles. */
    cfg.contexts = 2;
    check("pool", iaa_pool_create(&cfg, &pool), 0);
    for (i = 0; i < 2; i++) {
        fill(&all[i], 30 + i);
        check("3: submit", submit(pool, &all[i], &h[i]), 0);
    }
    fill(&one, 40);
    check("3: every context held", blocking_call(pool, &one), -EDEADLK);
    for (i = 0; i < 2; i++)
        check("3: wait", iaa_handle_wait(h[i], NULL), 0);
    check("3: after the handles ended", blocking_call(pool, &one), 0);
    iaa_pool_destroy(pool);

    if (failures)
        return 1;
    printf("contexts: all checks passed\n");
    return 0;
}
