/* log.h - start-up and operational log lines on stderr.
 *
 * One line per call, prefixed with a UTC timestamp and the level. Never
 * called per packet. Any thread (each call is a single write(2)).
 */
#ifndef RINGTRACKER_LOG_H
#define RINGTRACKER_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO };

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the least severe level written (from [server] log_level; changed by
 * a reload). Main thread; other threads see it at their next log call. */
void log_set_level(enum log_level level);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)

#endif
