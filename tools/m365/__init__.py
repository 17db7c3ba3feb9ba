"""Microsoft 365 tenant clients: Exchange Online quarantine cmdlets and Microsoft Graph."""
