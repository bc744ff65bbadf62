/* The error convention of the whole program, shared by models/, tasks/ and ref/ (which otherwise
 * know nothing of each other): a function that can fail returns 0 on success, 1 for bad input, 2
 * for an I/O failure (the process exit codes), and writes a one-line message naming the bad value
 * and what was expected into a caller's buffer of ERR_LEN bytes. Longer messages are cut. */
#ifndef SCALERL_ERRBUF_H
#define SCALERL_ERRBUF_H

#define ERR_LEN 512

#endif
