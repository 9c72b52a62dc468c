/*
 * hooks.S - the entry of each hooked allocation function (docs/design.md
 * §12.1). The GOT entries cprof patches point here.
 *
 * Not live (heapabi_private.live == 0): one load, one branch, and a jump
 * to the real function (heapabi_shared.real[]), the caller's frame
 * untouched.
 *
 * Live, for the functions whose size is an argument (malloc, calloc,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc): the size is
 * taken off the counter of the calling thread's stack (counters[hash(SP >>
 * 20)]) here, in a few instructions, and while it stays >= 0 the stub
 * still jumps (tail call) to the real function. Only when it goes below 0
 * does the stub save BX BP R12..R15, its entry SP and the arguments in a
 * struct hb_frame on the stack and call hb_enter (sample.c), which calls
 * the real function, samples the block and returns its result. realloc
 * and reallocarray always go to hb_enter (the old block leaves the live
 * set first). free looks at its block's live-set group here and goes to
 * hb_free only when the group holds a sampled block.
 *
 * A live malloc and free jump to the copies of their real functions in
 * the private area's first line, beside `live`, so that the calls a
 * program makes most touch two lines of ours: that one and the counter
 * (or the group).
 *
 * Scratch registers: RAX and R11 (RDX for calloc's product), which the ABI
 * lets a callee clobber and none of these functions takes an argument in.
 */
#include "layout.h"

	.section .text.hb_hooks,"ax",@progbits

/* left -= \size on the calling thread's counter; flags as the sub left
 * them (SF: went below 0). */
.macro COUNT size
	mov	%rsp, %rax
	shr	$HB_SP_SHIFT, %rax
	movabs	$HB_HASH_MUL, %r11
	imul	%r11, %rax
	shr	$HB_HASH_SHIFT, %rax
	shl	$HB_COUNTER_SHIFT, %rax
	lea	heapblob_priv+HB_PRIV_COUNTERS+HB_COUNTER_LEFT(%rip), %r11
	sub	\size, (%r11,%rax)
.endm

/* Save the caller's callee-saved registers, the entry SP and the three
 * argument registers; call hb_enter(frame, func); return its result to
 * the caller. The frame is 16-aligned whatever the caller's stack was
 * (a caller that breaks the ABI must not make our C code fault). */
.macro ENTER func
	mov	%rsp, %rax
	sub	$HB_FRAME_SIZE, %rsp
	and	$-16, %rsp
	mov	%rbx, HB_FRAME_BX(%rsp)
	mov	%rbp, HB_FRAME_BP(%rsp)
	mov	%r12, HB_FRAME_R12(%rsp)
	mov	%r13, HB_FRAME_R13(%rsp)
	mov	%r14, HB_FRAME_R14(%rsp)
	mov	%r15, HB_FRAME_R15(%rsp)
	mov	%rax, HB_FRAME_SP(%rsp)
	mov	%rdi, HB_FRAME_A0(%rsp)
	mov	%rsi, HB_FRAME_A1(%rsp)
	mov	%rdx, HB_FRAME_A2(%rsp)
	mov	%rsp, %rdi
	mov	$\func, %esi
	call	hb_enter
	mov	HB_FRAME_SP(%rsp), %rsp
	ret
.endm

.macro BEGIN name
	.globl	hb_hook_\name
	.hidden	hb_hook_\name
	.type	hb_hook_\name, @function
	.p2align 4
hb_hook_\name:
	endbr64
.endm

.macro END name
	.size	hb_hook_\name, . - hb_hook_\name
.endm

/* A hook whose size is in register \size; \real, when given: where its
 * live path finds the real function. */
.macro SIZED name func size real
BEGIN \name
	cmpl	$0, heapblob_priv+HB_PRIV_LIVE(%rip)
	je	1f
	COUNT	\size
	js	2f
.ifnb \real
	jmp	*\real(%rip)
.endif
1:	jmp	*heapblob_shared+HB_SHARED_REAL+8*\func(%rip)
2:	ENTER	\func
END \name
.endm

	.globl	hb_text_start
	.hidden	hb_text_start
hb_text_start:

SIZED malloc,		HB_MALLOC,		%rdi, heapblob_priv+HB_PRIV_REAL_MALLOC
SIZED valloc,		HB_VALLOC,		%rdi
SIZED pvalloc,		HB_PVALLOC,		%rdi
SIZED aligned_alloc,	HB_ALIGNED_ALLOC,	%rsi
SIZED memalign,		HB_MEMALIGN,		%rsi
SIZED posix_memalign,	HB_POSIX_MEMALIGN,	%rdx

/* calloc(n, m): n * m; an overflow is not counted (the real calloc
 * fails). RDX is free: calloc has two arguments. */
BEGIN calloc
	cmpl	$0, heapblob_priv+HB_PRIV_LIVE(%rip)
	je	1f
	mov	%rdi, %rax
	mul	%rsi
	jo	1f
	mov	%rax, %rdx
	COUNT	%rdx
	js	2f
1:	jmp	*heapblob_shared+HB_SHARED_REAL+8*HB_CALLOC(%rip)
2:	ENTER	HB_CALLOC
END calloc

/* realloc and reallocarray: hb_enter takes the old block out of the live
 * set before the real call, and counts the new size. */
BEGIN realloc
	cmpl	$0, heapblob_priv+HB_PRIV_LIVE(%rip)
	je	1f
	ENTER	HB_REALLOC
1:	jmp	*heapblob_shared+HB_SHARED_REAL+8*HB_REALLOC(%rip)
END realloc

BEGIN reallocarray
	cmpl	$0, heapblob_priv+HB_PRIV_LIVE(%rip)
	je	1f
	ENTER	HB_REALLOCARRAY
1:	jmp	*heapblob_shared+HB_SHARED_REAL+8*HB_REALLOCARRAY(%rip)
END reallocarray

/* free: straight to the real free unless the block's live-set group
 * counts an entry (sample.c's live_remove, which makes the same check
 * first); then hb_free clears the entry and tail-calls the real free. */
BEGIN free
	cmpl	$0, heapblob_priv+HB_PRIV_LIVE(%rip)
	je	1f
	test	%rdi, %rdi
	jz	3f
	mov	%rdi, %rax
	shr	$4, %rax
	movabs	$HB_HASH_MUL, %r11
	imul	%r11, %rax
	shr	$HB_GROUP_OF_SHIFT, %rax
	lea	heapblob_groups(%rip), %r11
	cmpb	$0, (%r11,%rax)
	jne	hb_free
3:	jmp	*heapblob_priv+HB_PRIV_REAL_FREE(%rip)
1:	jmp	*heapblob_shared+HB_SHARED_REAL+8*HB_FREE(%rip)
END free

	.section .note.GNU-stack,"",@progbits
