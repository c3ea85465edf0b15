"""The transactional outbox: messages for other systems, written in the transaction of the book change.

Importing the package installs the capture (`capture.py`), so that every session of the process
records the messages its flushes call for.
"""

from orderbridge.outbox import capture as capture
