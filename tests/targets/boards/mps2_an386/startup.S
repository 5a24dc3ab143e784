/* Vector table and reset code for the MPS2-AN386 (Cortex-M4F) under QEMU.
 *
 * Reset_Handler enables the FPU, copies .data from code memory to RAM and jumps to
 * newlib's semihosting crt0 (_start in rdimon-crt0.o: stack and heap from the
 * SYS_HEAPINFO call, .bss zeroed, constructors, main, exit(status) through semihosting).
 * Every other exception prints where it happened and exits with status 3, so a crash
 * ends the run instead of hanging it.  See README.md.
 */
    .syntax unified
    .cpu cortex-m4
    .fpu fpv4-sp-d16
    .thumb

    .section .isr_vector, "a", %progbits
    .align 2
    .globl __isr_vector
__isr_vector:
    .word __StackTop            /* initial SP (crt0 replaces it) */
    .word Reset_Handler
    .word Fault_Handler         /* NMI */
    .word Fault_Handler         /* HardFault */
    .word Fault_Handler         /* MemManage */
    .word Fault_Handler         /* BusFault */
    .word Fault_Handler         /* UsageFault */
    .word 0, 0, 0, 0            /* reserved */
    .word Fault_Handler         /* SVCall */
    .word Fault_Handler         /* DebugMonitor */
    .word 0                     /* reserved */
    .word Fault_Handler         /* PendSV */
    .word Fault_Handler         /* SysTick */
    .rept 32                    /* the AN386's 32 external interrupts: none is enabled */
    .word Fault_Handler
    .endr

    .text
    .align 2
    .thumb_func
    .globl Reset_Handler
    .type Reset_Handler, %function
Reset_Handler:
    /* CPACR (0xE000ED88) bits 20..23: full access to CP10 and CP11, i.e. the FPU.  It
     * resets to 0, and the first floating-point instruction would then raise a NOCP
     * UsageFault; crt0 and any -mfloat-abi=hard code may use FP registers. */
    ldr     r0, =0xE000ED88
    ldr     r1, [r0]
    orr     r1, r1, #(0xF << 20)
    str     r1, [r0]
    dsb
    isb
    /* .data lives in code memory (its load address) and runs from RAM */
    ldr     r0, =__data_load__
    ldr     r1, =__data_start__
    ldr     r2, =__data_end__
1:  cmp     r1, r2
    bhs     2f
    ldr     r3, [r0], #4
    str     r3, [r1], #4
    b       1b
2:  ldr     r0, =_start
    bx      r0
    .size Reset_Handler, . - Reset_Handler

/* Semihosting calls: r0 = operation, r1 = argument, BKPT 0xAB. */
#define SYS_WRITEC 0x03
#define SYS_WRITE0 0x04

    .align 2
    .thumb_func
    .globl Fault_Handler
    .type Fault_Handler, %function
Fault_Handler:
    tst     lr, #4              /* EXC_RETURN bit 2: the frame is on PSP, else MSP */
    ite     eq
    mrseq   r4, msp
    mrsne   r4, psp
    ldr     r4, [r4, #24]       /* the stacked PC: the faulting instruction */
    mrs     r5, ipsr            /* the exception number (3 = HardFault) */
    ldr     r1, =fault_text_exception
    movs    r0, #SYS_WRITE0
    bkpt    0xab
    mov     r0, r5
    bl      print_hex
    ldr     r1, =fault_text_pc
    movs    r0, #SYS_WRITE0
    bkpt    0xab
    mov     r0, r4
    bl      print_hex
    ldr     r1, =fault_text_end
    movs    r0, #SYS_WRITE0
    bkpt    0xab
    movs    r0, #3
    bl      _exit               /* newlib's: status 3 reaches QEMU's exit status */
3:  b       3b
    .size Fault_Handler, . - Fault_Handler

/* print_hex: writes r0 as 8 hex digits (uses r0-r3, r6, r7). */
    .align 2
    .thumb_func
    .type print_hex, %function
print_hex:
    push    {r6, r7, lr}
    sub     sp, sp, #8
    mov     r6, r0
    movs    r7, #28
4:  lsr     r2, r6, r7
    and     r2, r2, #0xF
    cmp     r2, #10
    ite     lo
    addlo   r2, r2, #'0'
    addhs   r2, r2, #('a' - 10)
    strb    r2, [sp]
    mov     r1, sp
    movs    r0, #SYS_WRITEC
    bkpt    0xab
    subs    r7, r7, #4
    bpl     4b
    add     sp, sp, #8
    pop     {r6, r7, pc}
    .size print_hex, . - print_hex

    .section .rodata.fault_text, "a", %progbits
fault_text_exception:
    .asciz "\nboard fault: exception 0x"
fault_text_pc:
    .asciz " at pc 0x"
fault_text_end:
    .asciz " (exit status 3)\n"
