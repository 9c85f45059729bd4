/* Appends fixed-size records to an existing log, one per line read from stdin, and reports each.
 *
 *   c_append LOG [--no-fsync]
 *
 * For each line on stdin it appends "record NNN\n" (NNN counts from 0) with one write(2),
 * fsyncs the log unless --no-fsync, then prints "ok NNN" on stdout. It exits at end of input,
 * so it writes nothing once the process driving it is gone. Exit status 1 on any I/O error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--no-fsync") != 0)) {
        fprintf(stderr, "usage: c_append LOG [--no-fsync]\n");
        return 2;
    }
    int sync = argc == 2;
    int fd = open(argv[1], O_WRONLY | O_APPEND);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    char line[64], record[16];
    for (int n = 0; fgets(line, sizeof line, stdin) != NULL; n++) {
        snprintf(record, sizeof record, "record %03d\n", n);
        if (write(fd, record, strlen(record)) != (ssize_t)strlen(record)) {
            perror("write");
            return 1;
        }
        if (sync && fsync(fd) != 0) { /* the record is on disk before it is reported */
            perror("fsync");
            return 1;
        }
        printf("ok %03d\n", n);
        fflush(stdout);
    }
    return close(fd) != 0;
}
