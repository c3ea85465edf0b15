"""CSV imports into the book: read a file, validate every row, then apply it all in one transaction."""
