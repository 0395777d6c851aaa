#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Print an AD FS-style WS-Trust 1.3 Issue request (SOAP 1.2, WS-Addressing,
# UsernameToken PasswordText, fresh wsu:Timestamp) for curl to send:
#   tests/tools/rst-issue.sh USER PASSWORD APPLIES_TO [ENDPOINT] | curl ... --data-binary @- URL
# Demo and manual testing only: PasswordText belongs on TLS.
set -eu
user=$1; pass=$2; applies_to=$3; endpoint=${4:-http://127.0.0.1:8080/sts}
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
later=$(date -u -d '+5 minutes' +%Y-%m-%dT%H:%M:%SZ)
msgid="urn:uuid:$(cat /proc/sys/kernel/random/uuid)"
esc() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }
cat <<XML
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
 <s:Header>
  <wsa:Action s:mustUnderstand="1">http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</wsa:Action>
  <wsa:MessageID>$msgid</wsa:MessageID>
  <wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo>
  <wsa:To s:mustUnderstand="1">$(esc "$endpoint")</wsa:To>
  <wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
   <wsu:Timestamp wsu:Id="_0"><wsu:Created>$now</wsu:Created><wsu:Expires>$later</wsu:Expires></wsu:Timestamp>
   <wsse:UsernameToken wsu:Id="uuid-1"><wsse:Username>$(esc "$user")</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">$(esc "$pass")</wsse:Password></wsse:UsernameToken>
  </wsse:Security>
 </s:Header>
 <s:Body>
  <wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512">
   <wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><wsa:EndpointReference><wsa:Address>$(esc "$applies_to")</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>
   <wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</wst:KeyType>
   <wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType>
   <wst:TokenType>urn:oasis:names:tc:SAML:2.0:assertion</wst:TokenType>
  </wst:RequestSecurityToken>
 </s:Body>
</s:Envelope>
XML
