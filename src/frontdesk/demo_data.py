"""What the demo workspace contains: its people, ticket types and the stories of its tickets.

A story is a ticket's script. Steps: ``> text`` the customer writes (the first one opens the
ticket, or the conversation when ``via`` is set; `` +file:name`` attaches a log file);
``@who text`` a staff reply; ``#who text`` an internal note; ``!verb[@who] args`` an action
(claim, assign, status, tag, field, escalate, pin, lockdown, close, rate, merge, participant,
contact, rename, move, convert, solve), done by the ticket's handler unless ``@who`` says
otherwise; ``+2d`` / ``+5h`` lets time pass. ``frontdesk.demo`` plays them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKSPACE_NAME = "Nimbus Cloud Support"
TIMEZONE = "Europe/Amsterdam"
ADMIN_EMAIL = "ada@nimbus.example"
VIP_ROLE = "910000000000000001"
SEED = 20260311

STAFF = [  # key, display name, role
    ("olivia", "Olivia Bakker", "owner"), ("ada", "Ada Lindqvist", "admin"), ("marco", "Marco Rossi", "manager"),
    ("priya", "Priya Shah", "staff"), ("tom", "Tom de Vries", "staff"), ("lena", "Lena Fischer", "staff"),
]
CUSTOMERS = [  # key, display name, email, discord user id, plan, VIP role
    ("noah", "Noah Jansen", "noah@brightloop.example", None, "pro", False),
    ("grace", "Grace Müller", "grace@brightloop.example", None, "pro", False),
    ("emma", "Emma Visser", "emma@kaasfabriek.example", None, "starter", False),
    ("liam", "Liam O'Connor", None, "710000000000000003", "free", False),
    ("sofia", "Sofia Moreno", "sofia@tallerverde.example", None, "pro", False),
    ("yuki", "Yuki Tanaka", "yuki@hanabi-games.example", "710000000000000005", "enterprise", True),
    ("ren", "Ren Sato", "ren@hanabi-games.example", None, "enterprise", False),
    ("ben", "Ben Carter", None, "710000000000000006", "free", False),
    ("amara", "Amara Okafor", "amara@lumenhealth.example", "710000000000000007", "enterprise", True),
    ("jonas", "Jonas Weber", "jonas@brauwerk.example", None, "starter", False),
    ("chloe", "Chloé Dubois", "chloe@atelier-lune.example", None, "pro", False),
    ("raj", "Raj Patel", "raj@quantleaf.example", "710000000000000010", "enterprise", True),
    ("mia", "Mia Kowalski", None, "710000000000000011", "free", False),
    ("lucas", "Lucas Silva", "lucas@ondamar.example", None, "starter", False),
    ("hana", "Hana Novak", "hana@pixelpond.example", None, "pro", False),
    ("oskar", "Oskar Lind", "oskar@fjordbyte.example", None, "pro", False),
    ("spam", "cryptoking", None, "710000000000000099", "free", False),
]
SUBJECT = {"kind": "subject", "label": "Subject"}
DESCRIPTION = {"kind": "description", "label": "What do you need help with?"}
TYPES: dict[str, dict[str, Any]] = {  # key -> create_ticket_type fields, plus the channel tickets arrive on
    "general": dict(name="General", emoji="💬", category="General Tickets", channel="discord_channel",
                    description="Servers, networking, DNS and the control panel",
                    intake_questions=[SUBJECT, DESCRIPTION]),
    "billing": dict(name="Billing", emoji="💳", category="Billing Tickets", channel="email", open_limit_per_user=2,
                    sequential_names=True, opener_can_close=False, description="Invoices, payments, refunds, plans",
                    intake_questions=[SUBJECT, DESCRIPTION]),
    "bug": dict(name="Bug report", emoji="🐞", category="Bug Reports", channel="discord_forum", discord_mode="forum",
                open_limit_per_user=3, team="Tier 2", description="Something in Nimbus behaves wrongly",
                intake_questions=[SUBJECT, DESCRIPTION,
                                  {"kind": "custom", "id": "steps", "label": "Steps to reproduce", "long": True},
                                  {"kind": "custom", "id": "version", "label": "Version", "max_length": 40}]),
    "vip": dict(name="Account & VIP", emoji="🔒", category="Priority Accounts", channel="dm_relay",
                allowed_role_ids=[VIP_ROLE], open_limit_per_user=None,
                description="Enterprise accounts: security, contracts, quotas",
                intake_questions=[SUBJECT, DESCRIPTION]),
}


@dataclass(frozen=True)
class Story:
    key: str
    type: str
    opener: str
    days_ago: float
    priority: str
    title: str
    steps: tuple[str, ...]
    via: str | None = None
    anonymous: bool = False
    answers: dict[str, str] = field(default_factory=dict)


def T(key: str, type_: str, opener: str, days_ago: float, priority: str, title: str, *steps: str,
      via: str | None = None, anonymous: bool = False, **answers: str) -> Story:
    return Story(key, type_, opener, days_ago, priority, title, steps, via, anonymous, answers)


STORIES = [
    T("vpn", "general", "noah", 20.6, "normal", "Office VPN can't reach the private network",
      "> Since this morning nobody in our office reaches 10.20.0.0/16 over the site-to-site VPN. The internet works.",
      "!claim@priya", "@priya Hi Noah, thanks for the report. Could you send the output of `nimbus vpn status`?",
      "> Tunnel shows UP but phase 2 has 0 bytes in. Our firewall team changed nothing.",
      "#priya Our 04:00 maintenance gave gateway ams-gw-3 the new default cipher set; phase 2 no longer matches.",
      "!tag vpn networking", "!status in_progress",
      "@priya Found it: last night's maintenance changed the phase-2 proposal on your gateway. I've pinned it back "
      "to AES-256/SHA-256. Can you check again?",
      "> All green again, thanks a lot!", "!close resolved Phase-2 proposal pinned back after maintenance",
      "!rate helpful Quick and clear, thank you."),
    T("invoice-vat", "billing", "emma", 19.8, "normal", "VAT number missing on the March invoice",
      "> Our accountant needs the VAT number NL854321987B01 on invoice INV-2291. Can you reissue it?",
      "@tom Of course. I've added the VAT number to your billing profile and reissued INV-2291; it's in the portal.",
      "!tag invoice vat", "> Got it, looks right now.", "!close resolved Reissued INV-2291 with VAT number",
      "!rate helpful"),
    T("ssl", "general", "liam", 19.2, "high", "Let's Encrypt certificate not renewing",
      "> My cert expires in 3 days and certbot renew fails with a timeout on the HTTP challenge.",
      "@lena Hi Liam! Is port 80 open in your cloud firewall? The challenge needs it even if you only serve HTTPS.",
      "!tag ssl", "!status waiting", "+2d", "@lena Just checking in: did opening port 80 fix the renewal?",
      "+3d", "!close user_unresponsive No reply after two reminders", "!rate skipped"),
    T("refund-double", "billing", "sofia", 18.5, "high", "Charged twice for the Pro upgrade",
      "> I upgraded to Pro yesterday and my card was charged €49 twice. Please refund one of them.",
      "!claim@tom", "@tom Sorry about that, Sofia. I can see both charges; the second one came from a retried "
      "payment. I've asked finance to refund it.", "#tom Refund request FIN-3312 filed, finance SLA is 3 working days.",
      "!tag refund payment", "!escalate staff", "!status waiting", "+3d",
      "> It's been three days and I still don't see the refund.",
      "@tom Finance confirms the refund went out this morning; banks usually show it within 1-2 days.",
      "+1d", "> It's there now.", "!close resolved Duplicate charge refunded (FIN-3312)",
      "!rate not_helpful The refund took almost a week for your mistake."),
    T("spam", "general", "spam", 18.0, "low", "FREE NITRO + 10x your crypto",
      "> Claim free nitro and 10x your crypto in 24h!!! DM me", "!close@tom spam"),
    T("wordpress", "general", "ben", 17.3, "normal", "How do I install WordPress on my VPS?",
      "> Just got my first server. How do I put WordPress on it?",
      "@priya Welcome aboard! Unmanaged servers are yours to configure, so we can't set up apps, but our community "
      "guide walks through WordPress on Ubuntu step by step: https://docs.nimbus.example/guides/wordpress",
      "!close out_of_scope Application setup on an unmanaged VPS; pointed to the community guide", "!rate skipped"),
    T("dns", "general", "mia", 16.6, "normal", "Domain not pointing to my server after 2 days",
      "> I changed my A record two days ago and mia.dev still shows the old host.",
      "@priya Your registrar still lists the old nameservers, so our DNS zone is never asked. Set them to "
      "ns1.nimbus.example and ns2.nimbus.example.", "!tag dns", "> That was it, works now!",
      "!close@opener resolved", "!rate helpful"),
    T("api-500", "bug", "hana", 16.0, "high", "API returns 500 when listing snapshots with a filter",
      "> GET /v2/snapshots?filter=tag:nightly returns HTTP 500 every time; without the filter it works.",
      "!claim@lena", "@lena Thanks Hana, I can reproduce it. Passing this to engineering.",
      "> Here's the full request log in case it helps. +file:request-log.txt",
      "!field vendor_ticket_id ENG-4821", "!escalate staff", "!tag api snapshots", "!status in_progress",
      "#lena ENG-4821: the tag filter hits an unindexed column and times out. Fix lands in Thursday's deploy.",
      "+2d", "@lena The fix is deployed. The filtered listing should answer in well under a second now.",
      "> Confirmed, thanks!", "!close resolved Fixed in API deploy 2026.14", "!rate helpful Great follow-up.",
      steps="1. Create snapshots tagged nightly  2. GET /v2/snapshots?filter=tag:nightly", version="cli 2.13.2"),
    T("gdpr", "vip", "amara", 15.2, "normal", "Data processing agreement for our health data",
      "> Our DPO needs a signed DPA before we move patient scheduling data to Nimbus.",
      "@marco Hi Amara, I'll get our legal team to send you the DPA for signature today.",
      "#marco Legal (Anouk) is sending the DPA via DocuSign; nothing else to do here.",
      "> Signed and returned, thank you.", "!close other DPA handled by legal outside the desk", "!rate helpful"),
    T("takeover", "vip", "raj", 14.5, "urgent", "Suspicious logins on our enterprise account",
      "> We see logins from an IP in a country where we have no staff. Please lock things down.",
      "@marco Raj, I've revoked all sessions and API tokens on your account. Please reset passwords and re-enable 2FA.",
      "!lockdown@marco", "#marco Logins came from a leaked token in a public repo; security ticket SEC-118 opened.",
      "!tag security", "> Done, 2FA is enforced for the whole org now.",
      "@marco Thank you. We found the source: an API token committed to a public repository. It's revoked.",
      "!close@marco resolved Sessions and tokens revoked; leaked token found (SEC-118)"),
    T("cron", "bug", "mia", 12.5, "low", "Scheduled snapshot ran twice",
      "> My nightly snapshot ran twice last night, 02:00 and 03:00.",
      "@tom That was the switch to summer time: the schedule fired once per 02:00 local. It's fixed for future "
      "changes.", "!field vendor_ticket_id ENG-4870", "!tag snapshots dst", "!close resolved DST double-fire fixed",
      "!rate helpful", steps="Schedule daily snapshot at 02:00 Europe/Amsterdam", version="panel 2026.12"),
    T("mail", "general", "lucas", 11.5, "normal", "Emails from my server land in spam",
      "> Order confirmations from shop.ondamar.example go straight to Gmail's spam folder.",
      "@lena You have no SPF or DKIM records yet. Add the two TXT records from Networking > Email, then test again.",
      "!tag email dns", "> Gmail is happy now, thanks!", "!close resolved SPF and DKIM added", "!rate helpful"),
    T("slow-disk", "general", "emma", 10.5, "normal", "Disk I/O very slow on volume vol-7",
      "> Our database volume vol-7 does 20 MB/s, it used to be 200.", "!claim@tom",
      "@tom The storage node hosting vol-7 was rebuilding a disk. It finished 10 minutes ago; can you measure again?",
      "!tag storage performance", "> Back to normal.", "!close resolved Storage node rebuild finished",
      "!rate skipped"),
    T("refund-annual", "billing", "noah", 9.5, "normal", "Refund for unused months of the annual plan",
      "> We're moving to monthly billing. Can we get the unused 5 months of the annual plan back?",
      "@priya Annual plans aren't refundable, but I can credit the remaining €245 to your account instead.",
      "!tag refund", "> I'd rather have the money, but fine.", "!close other Converted to €245 account credit",
      "!rate not_helpful Credit instead of refund is not what we asked for."),
    T("ddos", "general", "ben", 8.0, "urgent", "Site under DDoS, need mitigation",
      "> My game server is getting 2 Gbit/s of UDP junk and keeps dropping players.", "!claim@lena",
      "@lena I've enabled volumetric filtering on your IP; legitimate game traffic is whitelisted by port.",
      "!tag ddos networking", "!status in_progress", "> Players are back, ping is stable.",
      "!close resolved DDoS filtering enabled", "!rate helpful Saved our evening!"),
    T("convert", "billing", "sofia", 7.0, "normal", "Team lost access to the billing portal",
      "> Hi, since the SSO change two of my colleagues can't open the billing portal anymore.",
      "@priya Thanks Sofia. Which email addresses do your colleagues log in with?",
      "> marta@tallerverde.example and joan@tallerverde.example", "!convert@priya", "!claim@priya",
      "#priya Both users lost the billing role when the SSO group mapping was imported.", "!tag sso",
      "@priya I've given both the billing role again. Could they try logging in?", "!status waiting", via="email"),
    T("dashboard", "bug", "noah", 6.0, "high", "Metrics dashboard shows empty graphs since 2.14",
      "> Since the 2.14 panel release every graph on the metrics page is empty for all our servers.",
      "!claim@tom", "!assign lena", "!contact grace", "!escalate staff", "!tag dashboard regression",
      "@tom Thanks Noah, we can see it too and engineering is on it. Lena owns the fix; I'll keep you posted.",
      "!field vendor_ticket_id ENG-4930", "!status in_progress",
      "#lena Metrics agent 2.14 ships a new label format; the panel query still expects the old one.",
      steps="Open Metrics for any server", version="panel 2.14.0"),
    T("solved-chat", "general", "mia", 5.0, "normal", "Where is my API key?",
      "> Where can I find my API key? I need it for Terraform.",
      "@tom Under Account > API tokens; click New token. It's shown once, so store it right away.",
      "> Found it, thanks!", "!solve@tom", via="web"),
    T("metrics", "bug", "oskar", 5.6, "normal", "No data on the monitoring page",
      "> The monitoring page shows 'no data' for every server since yesterday evening.", "!claim@tom",
      "@tom Hi Oskar, this is the same issue as a report we're already working on; I'm merging the two so you get "
      "the updates.", "!merge dashboard", steps="Open Monitoring", version="panel 2.14.0"),
    T("migration", "vip", "yuki", 13.0, "normal", "Enterprise migration to the EU-West region",
      "> We want to move our 40 game servers from US-East to EU-West before the European launch.",
      "!assign@marco lena", "!claim@lena", "!pin", "!participant ren", "!tag migration enterprise",
      "@lena Happy to plan this with you. I'll prepare a migration runbook; Ren from your side is added here.",
      "#lena Needs cross-region private network; check capacity in ams-3 for 40 x c2-16.", "+2d",
      "@lena Runbook attached in our shared drive. First wave: 10 servers this Thursday night?",
      "> Thursday works. Ren will be online.", "+3d", "@lena Wave 1 done, all 10 healthy in EU-West.",
      "!status waiting", "+4d", "> Wave 2 next week, we're waiting for our launch date.",
      "!status waiting"),
    T("abuse", "general", "mia", 4.0, "normal", "Another server is scanning my ports",
      "> Some IP in your range scans all my ports every few minutes.", "!claim@priya",
      "@priya Thanks for reporting. Can you share the source IP and a few log lines?", "!tag abuse",
      "!status waiting", anonymous=True),
    T("invoice-pdf", "billing", "jonas", 4.5, "low", "Can I get invoices as PDF by email?",
      "> Is there a way to receive invoices as PDF attachments instead of a portal link?",
      "@tom Yes: Billing > Preferences > 'Attach PDF to invoice emails'. It applies from the next invoice.",
      "!tag invoice", "!status resolved"),
    T("upgrade", "billing", "chloe", 3.8, "normal", "Upgrade from Starter to Pro mid-cycle: how is it billed?",
      "> If we upgrade to Pro halfway through the month, do we pay the full month?",
      "@priya You pay pro rata for the days left. Which account should I check: atelier-lune or atelier-lune-dev?",
      "!tag plans", "!status waiting"),
    T("ipv6", "general", "sofia", 3.2, "normal", "IPv6 address not reachable",
      "> My server has an IPv6 address in the panel but it doesn't answer pings over IPv6.", "!claim@priya",
      "@priya The address is assigned but not configured in your OS. Which distribution are you on?",
      "> Debian 12.", "!status in_progress", "!tag ipv6 networking"),
    T("backup", "general", "amara", 2.9, "urgent", "Restore from last night's backup failed",
      "> Restoring backup bk-2291 of our scheduling DB fails at 63% with 'checksum mismatch'. We need it today.",
      "!escalate@opener user_requested", "!claim@lena", "!assign@marco tom", "!tag backups",
      "@lena Amara, I'm on it with Tom. We're restoring the previous night's backup into a new volume in parallel.",
      "#lena bk-2291 has a corrupt chunk on storage node st-14; bk-2284 verifies fine.", "!status in_progress"),
    T("rate-limit", "bug", "raj", 2.5, "normal", "Object storage rate-limits far below 1000 req/s",
      "> We get 429 Slow Down at ~300 PUT/s per bucket, the docs say 1000.", "!claim@tom", "!tag api storage",
      "@tom Could you send the request IDs of a few 429 responses? The limit is per prefix, not per bucket.",
      "!status waiting", steps="Run 8 parallel uploaders into one prefix", version="s3 sdk 1.34"),
    T("ssh", "general", "liam", 2.0, "normal", "Lost my SSH key, locked out of my server",
      "> My laptop died and with it my SSH key. How do I get back into my server?",
      "@priya Use the web console in the panel (Server > Console), log in as root with a reset password and add your "
      "new public key.", "!status waiting", "> The console asks for a password I never set?"),
    T("card", "billing", "mia", 1.6, "high", "Card declined but my bank says all is fine",
      "> Payment for my server fails with 'card declined'. My bank sees no attempt at all.", "!claim@priya",
      "!tag payment"),
    T("k8s", "general", "hana", 1.2, "normal", "Kubernetes nodes NotReady",
      "> After upgrading our cluster to 1.30 two nodes in pool-b stay NotReady.", "!claim@tom", "!move bug",
      "!rename Kubernetes 1.30 upgrade: pool-b nodes stay NotReady", "!tag kubernetes",
      "@tom Thanks Hana. It looks like the CNI image didn't update on pool-b; we're checking with engineering.",
      "!status in_progress"),
    T("firewall", "general", "oskar", 0.9, "normal", "Is outbound port 25 blocked?",
      "> Our mail relay can't connect out on port 25. Is that blocked on new accounts?"),
    T("postgres", "general", "jonas", 0.6, "low", "Do you offer managed PostgreSQL?",
      "> We'd rather not run Postgres ourselves. Is there a managed option, and in which regions?"),
    T("gpu", "vip", "yuki", 0.4, "high", "GPU quota increase for the launch weekend",
      "> For our launch we need 24 extra g2-a100 instances from Friday to Monday.", "!assign@marco marco",
      "#marco Check capacity with infra before confirming; 24 A100s is most of ams-3.", "!tag quota enterprise"),
    T("invoice-address", "billing", "lucas", 0.3, "normal", "Change the billing address on invoices",
      "> We moved offices. New address: Rua das Flores 12, 1200-195 Lisboa."),
    T("status-page", "general", "chloe", 0.2, "high", "Status page says all operational but my site is down",
      "> atelier-lune.example has been down for 20 minutes and your status page is all green.",
      "!escalate@opener user_requested", "!tag outage"),
]
