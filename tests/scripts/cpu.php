<?php
/* Burns CPU until max_execution_time stops it; one line, so the error names the same
   line whichever opcode the timer interrupts. */
for ($i = 0; true; $i++) { $i ^= 1; }
