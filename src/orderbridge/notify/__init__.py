"""E-mail to the seller: discrepancy and progress notices (F5), queued with the book change, sent by SMTP."""
