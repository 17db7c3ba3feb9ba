.PHONY: setup analyze test
setup:
	bash scripts/setup.sh

# Set up and analyze a bundled sample (no API key, no tenant needed).
analyze: setup
	.venv/bin/qrelease analyze qrelease/samples/credential-phish.eml --requester alexw@contoso.com

# Set up and run lint, types and the whole test suite.
test:
	bash scripts/test.sh
