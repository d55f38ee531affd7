"""One function per message type: validate → decide, on the batch's unit of work.

Loading and saving happen around them, set-based (worker.processing, worker.unit_of_work);
a handler only reads and changes the UnitOfWork and says what became of its record.
"""
