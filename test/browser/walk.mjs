// walk.mjs drives Monster UI's port screens in headless Chromium for
// browser_test.go, which starts portreqd, the API gateway and the UI and
// passes their addresses in the environment. It prints one
// "STEP-RESULT {json}" line per step and "PORT-REQUEST-ID id" once the
// request is listed; it exits 1 when a step fails.
//
// Steps (the brief's a–g): the customer logs in through Monster UI's login
// form (portreqd's user_auth), opens the port listing, files a request
// through the wizard, finds it under Progressing, opens it and comments;
// the port authority's agent logs in the same way in a fresh browser
// context, finds it under Agent and moves it to pending, scheduled and
// completed; the customer finds it under Completed.

import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

function need(name) {
	const v = process.env[name];
	if (!v) {
		console.error(`walk.mjs: environment variable ${name} is not set (run it through go test ./test/browser)`);
		process.exit(2);
	}
	return v;
}

const E = {
	ui: need('UI_URL'),
	api: need('API_URL'),
	chromium: need('CHROMIUM_PATH'),
	customer: {
		username: need('CUSTOMER_USERNAME'),
		password: need('CUSTOMER_PASSWORD'),
		accountName: need('CUSTOMER_ACCOUNT_NAME'),
		accountId: need('CUSTOMER_ACCOUNT_ID'),
		userId: need('CUSTOMER_USER_ID'),
	},
	customerAccount: need('CUSTOMER_ACCOUNT_ID'),
	customerName: need('CUSTOMER_NAME'),
	agent: {
		username: need('AGENT_USERNAME'),
		password: need('AGENT_PASSWORD'),
		accountName: need('MASTER_ACCOUNT_NAME'),
		accountId: need('MASTER_ACCOUNT_ID'),
		userId: need('AGENT_USER_ID'),
	},
	masterAccount: need('MASTER_ACCOUNT_ID'),
	agentName: need('AGENT_NAME'),
	number: need('PORT_NUMBER'),
	email: need('NOTIFY_EMAIL'),
	billPdf: need('BILL_PDF'),
	loaPdf: need('LOA_PDF'),
	shots: need('SCREENSHOT_DIR'),
	extraShots: process.env.BROWSER_SCREENSHOTS_DIR || '',
};

// Generous: this machine may have two slow cores.
const WAIT = 60_000;
const NAV = 120_000;

const stamp = new Date().toISOString().replace(/\D/g, '').slice(8, 14);
const requestName = `Walk port ${stamp}`;
const comment = `Customer comment ${stamp}: please port before the end of the month.`;
const label = {
	submitted: 'Port Requested',
	pending: 'Submitted to Carrier',
	scheduled: 'Scheduled by Carrier',
	completed: 'Completed',
};

const log = (...a) => console.log(...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* ---------- browser plumbing ---------- */

const apiOrigin = new URL(E.api).origin;
const uiOrigin = new URL(E.ui).origin;

// Known noise, kept in the notes but not printed: the browser's echo of
// the HTTP errors logged as they happen, and Monster UI's websocket client,
// which connects to "undefined" when config.js names no socket (as here:
// portreqd serves no websocket).
const noise = /Failed to load resource|WebSocket connection to '[^']*\/undefined'/;

// instrument records what a page says: console errors, page errors, failed
// and refused requests, HTTP errors. Only loopback requests may leave.
function instrument(page, who) {
	const notes = [];
	page.notes = notes;
	page.who = who;
	const note = (s, live = !noise.test(s)) => {
		notes.push(s);
		if (notes.length > 200) notes.shift();
		if (live) log(`  [${who}] ${s}`);
	};
	page.on('console', (m) => {
		const type = m.type();
		if (type === 'error') note(`console.error: ${m.text()}`);
		else if (type === 'warn' || type === 'warning') note(`console.warn: ${m.text()}`, false);
	});
	page.on('pageerror', (e) => note(`page error: ${e.message}`));
	page.on('requestfailed', (r) => {
		const u = r.url();
		if (!isLocal(u)) return; // refused by us below, already noted
		note(`request failed: ${r.method()} ${u} (${r.failure()?.errorText})`);
	});
	page.on('response', (r) => {
		if (r.status() >= 400) note(`HTTP ${r.status()} ${r.request().method()} ${shortUrl(r.url())}`);
	});
	page.on('dialog', async (d) => {
		note(`window.${d.type()}: ${d.message()}`);
		await d.dismiss();
	});
}

function isLocal(u) {
	if (u.startsWith('data:') || u.startsWith('blob:') || u.startsWith('about:')) return true;
	try {
		const h = new URL(u).hostname;
		return h === '127.0.0.1' || h === 'localhost' || h === '[::1]';
	} catch {
		return false;
	}
}

function shortUrl(u) {
	return u.replace(apiOrigin, '{API}').replace(uiOrigin, '{UI}').replace(/([?&])_=\d+(&?)/, (m, sep, amp) => (amp ? sep : '')).replace(/[?&]$/, '');
}

async function newSession(browser, who) {
	const context = await browser.createBrowserContext();
	const page = await context.newPage();
	page.setDefaultTimeout(WAIT);
	page.setDefaultNavigationTimeout(NAV);
	instrument(page, who);
	await page.setRequestInterception(true);
	const refused = new Set();
	page.on('request', (req) => {
		const u = req.url();
		if (isLocal(u)) return req.continue();
		const host = new URL(u).host;
		if (!refused.has(host)) {
			refused.add(host);
			page.notes.push(`refused off-machine request to ${host}`);
			log(`  [${who}] refused off-machine request to ${host} (only loopback is allowed)`);
		}
		return req.abort('blockedbyclient');
	});
	return { context, page };
}

// login opens Monster UI in a fresh incognito context (no cookies: the
// login page), fills its login form with the user's username, password
// and account name, clicks "Log In" (Monster UI sends PUT user_auth with
// the MD5 of "username:password") and waits until the auth app has the
// user and the account, and the common app (port screens) has the account.
async function login(browser, who, user) {
	const s = await newSession(browser, who);
	await s.page.goto(E.ui, { waitUntil: 'domcontentloaded' });
	await fill(s.page, '#form_login #login', user.username, { timeout: NAV });
	await fill(s.page, '#form_login #password', user.password);
	await fill(s.page, '#form_login #account_name', user.accountName);
	await shot(s.page, `${who}-login-form`);
	await click(s.page, '#form_login button.btn-submit.login');
	await s.page.waitForFunction(
		(id, userId) => (window.monster && monster.apps && monster.apps.auth && monster.apps.auth.currentAccount
			&& monster.apps.auth.currentUser && monster.apps.auth.currentUser.id === userId
			&& monster.apps.common && monster.apps.common.accountId === id)
			|| [...document.querySelectorAll('#form_login .error-message-wrapper')].some((e) => e.getClientRects().length),
		{ timeout: NAV, polling: 250 },
		user.accountId, user.userId,
	);
	const refused = await s.page.$eval('#form_login .error-message-wrapper', (e) => e.getClientRects().length > 0 && e.innerText.trim()).catch(() => false);
	if (refused) throw new Error(`the login form says: ${refused}`);
	return s.page;
}

const slug = (t) => t.toLowerCase().replace(/\(.*?\)|"[^"]*"/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48).replace(/-$/, '');

let shotSeq = 0;
async function shot(page, name) {
	shotSeq += 1;
	const file = `${String(shotSeq).padStart(2, '0')}-${name}.png`;
	const p = path.join(E.shots, file);
	try {
		await page.screenshot({ path: p });
		if (E.extraShots) {
			fs.mkdirSync(E.extraShots, { recursive: true });
			fs.copyFileSync(p, path.join(E.extraShots, file));
		}
	} catch (e) {
		log(`  screenshot ${file} failed: ${e.message}`);
	}
	return file;
}

/* ---------- DOM helpers (run in the page) ---------- */

// visible finds the first visible element matching selector (under
// within, holding text), waiting for it; the handle is returned.
async function visible(page, selector, { text, within, timeout = WAIT, enabled = false } = {}) {
	const handle = await page.waitForFunction(
		(selector, text, within, enabled) => {
			const roots = within ? [...document.querySelectorAll(within)] : [document];
			for (const root of roots) {
				for (const el of root.querySelectorAll(selector)) {
					const st = getComputedStyle(el);
					if (el.getClientRects().length === 0 || st.visibility === 'hidden' || st.display === 'none') continue;
					if (text && !el.textContent.includes(text)) continue;
					if (enabled && (el.disabled || el.classList.contains('disabled'))) continue;
					return el;
				}
			}
			return null;
		},
		{ timeout, polling: 200 },
		selector, text || '', within || '', enabled,
	).catch((e) => {
		throw new Error(`no visible ${selector}${text ? ` holding "${text}"` : ''}${within ? ` in ${within}` : ''}${enabled ? ' (enabled)' : ''} within ${timeout / 1000}s (${e.message.split('\n')[0]})`);
	});
	return handle.asElement();
}

async function click(page, selector, opts = {}) {
	const el = await visible(page, selector, { ...opts, enabled: true });
	await el.scrollIntoView();
	await el.click();
	return el;
}

// fill types value into a field as a person would (focus, keys), and
// checks the field holds it.
async function fill(page, selector, value, opts = {}) {
	const el = await visible(page, selector, opts);
	await el.evaluate((e) => { e.value = ''; });
	await el.focus();
	await el.type(value, { delay: 5 });
	const got = await el.evaluate((e) => e.value);
	if (got !== value) throw new Error(`${selector}: typed "${value}", field holds "${got}" (focus lost while typing?)`);
	await el.evaluate((e) => e.dispatchEvent(new Event('blur')));
	return el;
}

// check ticks a checkbox the way a click on it does (Monster's styled
// checkboxes hide the input behind their label).
async function check(page, selector) {
	await page.waitForFunction((s) => { const e = document.querySelector(s); return e && !e.disabled; }, { timeout: WAIT, polling: 200 }, selector)
		.catch(() => { throw new Error(`checkbox ${selector} never became enabled`); });
	const checked = await page.$eval(selector, (e) => { if (!e.checked) e.click(); return e.checked; });
	if (!checked) throw new Error(`checkbox ${selector} did not tick`);
}

// markStale tags the current element of selector, so that waitFresh can
// wait for its replacement.
async function markStale(page, selector) {
	await page.$$eval(selector, (els) => els.forEach((e) => e.setAttribute('data-walk-stale', '1')));
}

async function waitFresh(page, selector, timeout = WAIT) {
	await visible(page, `${selector}:not([data-walk-stale])`, { timeout });
}

// What the page shows that explains a failure: open dialogs and toasts.
async function pageMessages(page) {
	return page.evaluate(() => {
		const out = [];
		document.querySelectorAll('.ui-dialog, #toast-container .toast, .toast').forEach((e) => {
			if (e.getClientRects().length && getComputedStyle(e).display !== 'none') out.push(e.innerText.replace(/\s+/g, ' ').trim().slice(0, 400));
		});
		return out;
	}).catch(() => []);
}

/* ---------- port listing helpers ---------- */

// waitListing waits for the listing table (or its empty state) to be
// rendered fresh, and returns its rows.
async function waitListing(page) {
	await page.waitForFunction(() => {
		const w = document.querySelector('#port_app_container #ports_listing_wrapper:not([data-walk-stale])');
		return w && w.children.length > 0 && (w.querySelector('.empty-listing') || w.querySelector('#ports_listing tbody'));
	}, { timeout: WAIT, polling: 200 }).catch(async () => {
		throw new Error(`port listing did not render (page says: ${(await pageMessages(page)).join(' | ') || 'nothing'})`);
	});
	await sleep(300); // footable fills its body right after
	return page.$$eval('#port_app_container #ports_listing_wrapper tr.listing-item', (trs) => trs.map((tr) => ({
		id: tr.getAttribute('data-id'),
		name: tr.querySelector('td .bold')?.textContent.trim(),
		status: tr.querySelector('.status-wrapper .status')?.textContent.trim(),
		carrier: tr.querySelector('td:last-child')?.textContent.trim(),
	})));
}

// openTab clicks a listing tab (top navbar or the visible subnav) and
// returns the rows it lists.
async function openTab(page, id) {
	await markStale(page, '#port_app_container #ports_listing_wrapper');
	await click(page, `#port_app_container a.navbar-menu-item-link[data-id="${id}"]`);
	return waitListing(page);
}

async function openListing(page) {
	await page.evaluate(() => monster.pub('common.portListing.render', {}));
	await visible(page, '#port_app_container');
	return waitListing(page);
}

async function tabTexts(page, selector) {
	return page.$$eval(selector, (as) => as.filter((a) => a.getClientRects().length).map((a) => `${a.getAttribute('data-id')}:${a.textContent.trim()}`));
}

// openDetail opens a request from the listing and waits for its timeline.
async function openDetail(page, id) {
	await click(page, `#port_app_container tr.listing-item[data-id="${id}"]`);
	await visible(page, '#port_detail_view', { timeout: WAIT });
}

async function timeline(page) {
	return page.$$eval('#port_detail_view .timeline .entry-wrapper', (es) => es.map((e) => ({
		status: e.classList.contains('status'),
		title: e.querySelector('.title')?.textContent.trim(),
		content: e.querySelector('.content')?.textContent.trim().replace(/\s+/g, ' '),
	})));
}

// statusNodes reads the detail view's progress nodes: label → classes.
async function statusNodes(page) {
	return page.$$eval('#port_detail_view .monster-statuses .node', (ns) => ns.map((n) => ({
		label: n.querySelector('.status')?.textContent.trim().replace(/\s+/g, ' '),
		cls: n.className,
	})));
}

async function expectState(page, state) {
	const want = label[state];
	await page.waitForFunction((want) => [...document.querySelectorAll('#port_detail_view .timeline .entry-wrapper.status .title')]
		.some((t) => t.textContent.trim() === want), { timeout: WAIT, polling: 200 }, want)
		.catch(async () => {
			throw new Error(`timeline shows no "${want}" entry; it shows ${JSON.stringify(await timeline(page))}`);
		});
	const entries = (await timeline(page)).filter((e) => e.status);
	const last = entries[entries.length - 1];
	if (!last || last.title !== want) throw new Error(`last status in the timeline is "${last?.title}", want "${want}"`);
	const nodes = await statusNodes(page);
	const node = nodes.find((n) => n.label.startsWith(want));
	const mark = state === 'completed' ? 'success' : 'in-progress';
	if (!node || !node.cls.split(/\s+/).includes(mark)) {
		throw new Error(`status node "${want}" is not marked ${mark}: ${JSON.stringify(nodes)}`);
	}
}

async function updateStatus(page, state, fillDialog) {
	await click(page, '#update_status');
	await visible(page, '#form_update_status');
	// jQuery UI focuses the dialog's first field once it is open: let it,
	// or it steals the focus from the fields typed into below.
	await page.waitForFunction(() => document.activeElement && document.activeElement.closest('.ui-dialog'), { timeout: WAIT, polling: 100 });
	await page.select('#form_update_status select#state', state);
	if (fillDialog) await fillDialog();
	await markStale(page, '#port_detail_view');
	await click(page, '#form_update_status button.update');
	await waitFresh(page, '#port_detail_view', WAIT).catch(async (e) => {
		throw new Error(`detail view not re-rendered after "${state}": ${e.message}; page says: ${(await pageMessages(page)).join(' | ') || 'nothing'}`);
	});
}

/* ---------- the steps ---------- */

const results = [];
let failed = false;

async function step(page, id, title, fn, { soft = false } = {}) {
	const t0 = Date.now();
	log(`STEP ${id}: ${title}`);
	try {
		await fn();
		const file = await shot(page(), `${id}-${slug(title)}`);
		const r = { id, title, ok: true, ms: Date.now() - t0 };
		results.push(r);
		log(`STEP-RESULT ${JSON.stringify(r)}`);
		log(`  ok (${((Date.now() - t0) / 1000).toFixed(1)}s, ${file})`);
	} catch (e) {
		failed = true;
		const p = page();
		const file = p ? await shot(p, `${id}-FAILED`) : '(no page)';
		const msgs = p ? await pageMessages(p) : [];
		const r = { id, title, ok: false, soft, error: e.message, ms: Date.now() - t0 };
		results.push(r);
		log(`STEP-RESULT ${JSON.stringify(r)}`);
		log(`  FAILED: ${e.message}`);
		log(`  screenshot: ${file}`);
		if (msgs.length) log(`  the page shows: ${msgs.join(' | ')}`);
		if (p) {
			const notes = p.notes.filter((n) => !noise.test(n));
			const quiet = p.notes.length - notes.length;
			log(`  [${p.who}] console/network notes (last 30; ${quiet} more were browser echoes of HTTP errors or socket retries):\n    ${notes.slice(-30).join('\n    ') || '(none)'}`);
		}
		if (!soft) throw new Error(`step ${id} failed`);
	}
}

async function main() {
	fs.mkdirSync(E.shots, { recursive: true });
	const browser = await puppeteer.launch({
		executablePath: E.chromium,
		headless: true,
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--disable-dev-shm-usage',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-domain-reliability',
			'--no-first-run',
			'--no-default-browser-check',
			'--lang=en-US',
			'--window-size=1440,1000',
		],
		defaultViewport: { width: 1440, height: 1000 },
		protocolTimeout: 180_000,
		timeout: NAV,
	});
	log(`chromium ${await browser.version()}; UI ${E.ui}; API ${E.api}`);

	let customer = null;
	let agent = null;
	let requestId = '';
	try {
		// a. The customer logs in.
		await step(() => customer, 'a', 'customer logs in through the login form (user_auth)', async () => {
			customer = await login(browser, 'customer', E.customer);
			const acct = await customer.evaluate(() => ({
				id: monster.apps.auth.currentAccount.id,
				name: monster.apps.auth.currentAccount.name,
				user: `${monster.apps.auth.currentUser.first_name} ${monster.apps.auth.currentUser.last_name}`,
			}));
			if (acct.id !== E.customerAccount) throw new Error(`logged into ${acct.id}, want ${E.customerAccount}`);
			if (acct.name !== 'Customer Co') throw new Error(`account name "${acct.name}", want "Customer Co"`);
			if (acct.user !== E.customerName) throw new Error(`logged in as "${acct.user}", want "${E.customerName}"`);
		});

		// a2. A reload resumes the session from Monster UI's cookie
		// (POST auth/tokeninfo), with no login form.
		await step(() => customer, 'a2', 'customer reloads the page: the session resumes (auth/tokeninfo)', async () => {
			await customer.reload({ waitUntil: 'domcontentloaded' });
			await customer.waitForFunction(
				(id, userId) => (window.monster && monster.apps && monster.apps.auth && monster.apps.auth.currentAccount
					&& monster.apps.auth.currentUser && monster.apps.auth.currentUser.id === userId
					&& monster.apps.common && monster.apps.common.accountId === id)
					|| [...document.querySelectorAll('#form_login')].some((e) => e.getClientRects().length),
				{ timeout: NAV, polling: 250 },
				E.customer.accountId, E.customer.userId,
			);
			if (await customer.$eval('#form_login', (e) => e.getClientRects().length > 0).catch(() => false)) {
				throw new Error('the reload shows the login form: the session did not resume');
			}
		});

		// b. The port listing, as a customer sees it: three state tabs.
		await step(() => customer, 'b', 'customer opens the port listing', async () => {
			const rows = await openListing(customer);
			const tabs = await tabTexts(customer, '#port_app_container nav.app-navbar a.navbar-menu-item-link');
			const want = ['suspended:Suspended', 'progressing:Progressing', 'completed:Completed'];
			if (JSON.stringify(tabs) !== JSON.stringify(want)) throw new Error(`tabs ${JSON.stringify(tabs)}, want ${JSON.stringify(want)}`);
			if (rows.length) throw new Error(`a new customer already lists ${JSON.stringify(rows)}`);
		});

		// c. The wizard.
		await step(() => customer, 'c1', 'wizard 1/6: name and numbers', async () => {
			await click(customer, '#port_app_container .port-wizard');
			await fill(customer, '#port_request_name', requestName);
			await fill(customer, '#numbers_to_port_numbers', E.number);
			await click(customer, 'label[for="numbers_to_port_type_local"]');
			if (!(await customer.$eval('#numbers_to_port_type_local', (e) => e.checked))) throw new Error('"Local" numbers type not selected');
			await shot(customer, 'c1-filled');
			await click(customer, '#navigation_wizard_wrapper #next');
		});

		let losingCarrier = '';
		await step(() => customer, 'c2', 'wizard 2/6: carriers (lnp_lookup)', async () => {
			const sel = 'select[name="designateWinningCarrier.winningCarrier"]';
			const which = await customer.waitForFunction((sel) => {
				const vis = (e) => e && e.getClientRects().length > 0;
				if (vis(document.querySelector(sel))) return 'single';
				if (vis(document.querySelector('#step_carrier_selection'))) return 'multiple';
				const d = [...document.querySelectorAll('.ui-dialog')].find(vis);
				return d ? `dialog: ${d.innerText.replace(/\s+/g, ' ').trim()}` : null;
			}, { timeout: WAIT, polling: 200 }, sel).then((h) => h.jsonValue());
			if (which !== 'single') {
				const text = which === 'multiple'
					? await customer.$eval('#step_carrier_selection', (e) => e.innerText.replace(/\s+/g, ' ').trim().slice(0, 400))
					: which;
				throw new Error(`no single losing carrier for ${E.number}: ${text}`);
			}
			losingCarrier = await customer.$eval('input[name="designateWinningCarrier.losingCarrier"]', (e) => e.value);
			const options = await customer.$$eval(`${sel} option`, (os) => os.map((o) => o.value).filter(Boolean));
			if (!options.length) throw new Error('no winning carrier offered');
			log(`  losing carrier "${losingCarrier}", winning carriers ${JSON.stringify(options)}`);
			await customer.select(sel, options[0]);
			await click(customer, '#navigation_wizard_wrapper #next');
		});

		await step(() => customer, 'c3', 'wizard 3/6: bill upload and account information', async () => {
			await customer.waitForSelector('#bill_upload_recent_bill');
			const input = await customer.$('#bill_upload_recent_bill');
			await input.uploadFile(E.billPdf);
			await check(customer, '#bill_upload_acknowledge_bill_date');
			await visible(customer, 'input[name="accountOwnership.carrier"]');
			await fill(customer, 'input[name="accountOwnership.carrier"]', losingCarrier || 'Losing Carrier');
			await fill(customer, 'input[name="accountOwnership.billName"]', 'Customer Co');
			await fill(customer, 'input[name="serviceAddress.streetNumber"]', '1600');
			await fill(customer, 'input[name="serviceAddress.streetName"]', 'Pennsylvania');
			await fill(customer, 'input[name="serviceAddress.streetType"]', 'Ave');
			await fill(customer, 'input[name="serviceAddress.locality"]', 'Washington');
			await fill(customer, 'input[name="serviceAddress.region"]', 'DC');
			await fill(customer, 'input[name="serviceAddress.postalCode"]', '20500');
			await fill(customer, 'input[name="accountInfo.btn"]', E.number);
			const country = await customer.$eval('#service_address_country', (e) => e.value);
			if (country !== 'US') throw new Error(`service address country "${country}", want US`);
			await shot(customer, 'c3-filled');
			await click(customer, '#navigation_wizard_wrapper #next');
		});

		await step(() => customer, 'c4', 'wizard 4/6: letter of authorization', async () => {
			await customer.waitForSelector('#step_required_documents input[type=file][data-key=LOA]');
			const input = await customer.$('#step_required_documents input[type=file][data-key=LOA]');
			await input.uploadFile(E.loaPdf);
			await customer.waitForFunction(() => {
				const t = document.querySelector('#step_required_documents input[name="documents.LOA.name"]');
				return t && t.value;
			}, { timeout: WAIT, polling: 200 }).catch(() => { throw new Error('the LOA file was not taken'); });
			await fill(customer, 'input[name="extra.loaSignee"]', E.customerName);
			const date = await customer.$eval('input[name="extra.loaSigningDate"]', (e) => e.value);
			if (!date) throw new Error('no LOA signing date');
			await click(customer, '#navigation_wizard_wrapper #next');
		});

		await step(() => customer, 'c5', 'wizard 5/6: target date and notifications', async () => {
			await visible(customer, '#target_date');
			const date = await customer.$eval('#target_date', (e) => e.value);
			if (!date) throw new Error('no target date proposed');
			await fill(customer, 'input[name="notificationEmails[0]"]', E.email);
			await click(customer, '#navigation_wizard_wrapper #next');
		});

		await step(() => customer, 'c6', 'wizard 6/6: review, acknowledge, submit', async () => {
			await visible(customer, '#required_acknowledgements');
			const boxes = await customer.$$eval('#required_acknowledgements input[type=checkbox]', (bs) => bs.map((b) => b.name));
			if (boxes.length !== 4) throw new Error(`${boxes.length} acknowledgements, want 4: ${boxes}`);
			for (const name of boxes) await check(customer, `#required_acknowledgements input[name="${name}"]`);
			const review = await customer.$eval('#step_review', (e) => e.innerText);
			for (const want of [requestName, 'Customer Co', '20500']) {
				if (!review.includes(want)) throw new Error(`the review does not show "${want}"`);
			}
			await visible(customer, '#navigation_wizard_wrapper #done', { enabled: true });
			await shot(customer, 'c6-review');
			await click(customer, '#navigation_wizard_wrapper #done');
			await customer.waitForFunction(() => !document.querySelector('#navigation_wizard_wrapper') && document.querySelector('#port_app_container #ports_listing_wrapper'),
				{ timeout: WAIT, polling: 250 }).catch(async () => {
				throw new Error(`the wizard did not return to the listing after submission; page shows: ${(await pageMessages(customer)).join(' | ') || 'nothing'}`);
			});
		});

		// d. Listed under Progressing only.
		await step(() => customer, 'd', 'customer: the request is under Progressing only', async () => {
			await waitListing(customer);
			const progressing = await openTab(customer, 'progressing');
			const row = progressing.find((r) => r.name === requestName);
			if (!row) throw new Error(`Progressing lists ${JSON.stringify(progressing)}, not "${requestName}"`);
			requestId = row.id;
			log(`PORT-REQUEST-ID ${requestId}`);
			if (row.status !== label.submitted) throw new Error(`state "${row.status}", want "${label.submitted}"`);
			await shot(customer, 'd-progressing');
			for (const tab of ['suspended', 'completed']) {
				const rows = await openTab(customer, tab);
				if (rows.some((r) => r.id === requestId)) throw new Error(`${tab} lists it too: ${JSON.stringify(rows)}`);
			}
		});

		// e. The customer opens it and comments.
		await step(() => customer, 'e1', 'customer: detail view and timeline', async () => {
			await openTab(customer, 'progressing');
			await openDetail(customer, requestId);
			const title = await customer.$eval('#port_detail_view .info-panel .title', (e) => e.textContent.trim());
			if (title !== requestName) throw new Error(`detail title "${title}", want "${requestName}"`);
			await expectState(customer, 'submitted');
			// Who submitted: the user (the transition's authorization.user).
			const submitter = await customer.$$eval('#port_detail_view .control-group', (groups) => {
				const g = groups.find((e) => (e.querySelector('.control-label') || {}).textContent.trim() === 'Submitter');
				return g ? g.querySelector('.controls').textContent.trim() : null;
			});
			if (submitter !== E.customerName) throw new Error(`submitter "${submitter}", want "${E.customerName}"`);
			const numbers = await customer.$eval('#port_detail_view .numbers-listing', (e) => e.textContent.replace(/\D/g, ''));
			if (!numbers.includes(E.number.replace(/\D/g, ''))) throw new Error(`numbers listing "${numbers}" lacks ${E.number}`);
			if (await customer.$('#update_status')) throw new Error('the customer is offered "Update Status"');
		});

		await step(() => customer, 'e2', 'customer: adds a comment', async () => {
			await fill(customer, '#port_detail_view .textarea-wrapper textarea[name=comment]', comment);
			await click(customer, '#port_detail_view .textarea-wrapper button.add-comment');
			await customer.waitForFunction((c) => [...document.querySelectorAll('#port_detail_view .timeline .entry-wrapper .content')]
				.some((e) => e.textContent.includes(c)), { timeout: WAIT, polling: 200 }, comment)
				.catch(async () => { throw new Error(`comment not shown; timeline ${JSON.stringify(await timeline(customer))}`); });
			const entry = (await timeline(customer)).find((e) => e.content && e.content.includes(comment));
			if (entry.title !== E.customerName) throw new Error(`comment author "${entry.title}", want "${E.customerName}"`);
		});

		// f. The port authority's agent.
		await step(() => agent, 'f1', 'agent (master: reseller, superduper, authority) logs in through the login form; Account/Agent/Descendants tabs', async () => {
			agent = await login(browser, 'agent', E.agent);
			const who = await agent.evaluate(() => ({
				id: monster.apps.auth.currentAccount.id,
				user: `${monster.apps.auth.currentUser.first_name} ${monster.apps.auth.currentUser.last_name}`,
				superduper: monster.util.isSuperDuper(),
				reseller: monster.util.isReseller(),
			}));
			if (who.id !== E.masterAccount) throw new Error(`logged into ${who.id}, want ${E.masterAccount}`);
			if (who.user !== E.agentName) throw new Error(`logged in as "${who.user}", want "${E.agentName}"`);
			if (!who.superduper) throw new Error('GET accounts/{master} has no superduper_admin: true; Monster UI hides the agent tools');
			if (!who.reseller) throw new Error('GET accounts/{master} has no is_reseller: true; Monster UI shows only the state tabs');
			await openListing(agent);
			const tabs = await tabTexts(agent, '#port_app_container nav.app-navbar a.navbar-menu-item-link');
			const want = ['account:Account', 'agent:Agent', 'descendants:Descendants'];
			if (JSON.stringify(tabs) !== JSON.stringify(want)) throw new Error(`tabs ${JSON.stringify(tabs)}, want ${JSON.stringify(want)}`);
		});

		await step(() => agent, 'f2', 'agent: Descendants › Progressing lists it', async () => {
			await openTab(agent, 'descendants');
			const rows = await openTab(agent, 'progressing');
			if (!rows.some((r) => r.id === requestId)) throw new Error(`Descendants › Progressing lists ${JSON.stringify(rows)}`);
		}, { soft: true });

		await step(() => agent, 'f3', 'agent: Agent › Progressing lists it; opens it', async () => {
			await openTab(agent, 'agent');
			const rows = await openTab(agent, 'progressing');
			const row = rows.find((r) => r.id === requestId);
			if (!row) throw new Error(`Agent › Progressing lists ${JSON.stringify(rows)}`);
			if (row.status !== label.submitted) throw new Error(`state "${row.status}", want "${label.submitted}"`);
			await shot(agent, 'f3-agent-listing');
			await openDetail(agent, requestId);
			await expectState(agent, 'submitted');
			const t = await timeline(agent);
			if (!t.some((e) => e.content && e.content.includes(comment))) throw new Error(`the agent does not see the customer's comment: ${JSON.stringify(t)}`);
			await visible(agent, '#update_status');
		});

		await step(() => agent, 'f4', `agent: Update Status → pending ("${label.pending}")`, async () => {
			await updateStatus(agent, 'pending', async () => {
				await visible(agent, '#form_update_status .additional-info');
				await fill(agent, '#form_update_status #winning_carrier', 'Walk Winning Carrier');
				await fill(agent, '#form_update_status #reference_number', `REF-${stamp}`);
				await shot(agent, 'f4-dialog');
			});
			await expectState(agent, 'pending');
			const info = await agent.$eval('#port_detail_view .info-panel', (e) => e.innerText);
			if (!info.includes(`REF-${stamp}`)) throw new Error('the reference number is not shown');
			if (!info.includes('Walk Winning Carrier')) throw new Error('the winning carrier is not shown');
		});

		await step(() => agent, 'f5', `agent: Update Status → scheduled ("${label.scheduled}")`, async () => {
			// A week from now, 14:30 in New York (the browser runs in UTC).
			const day = new Date(Date.now() + 7 * 86_400_000);
			const mdy = [day.getMonth() + 1, day.getDate()].map((n) => String(n).padStart(2, '0')).join('/') + `/${day.getFullYear()}`;
			await updateStatus(agent, 'scheduled', async () => {
				await visible(agent, '#form_update_status #scheduled_date');
				await agent.evaluate((ms) => {
					const $ = window.jQuery;
					$('#scheduled_date').datepicker('setDate', new Date(ms));
					$('#scheduled_time').timepicker('setTime', '14:30');
					$('#scheduled_timezone').val('America/New_York').trigger('chosen:updated');
				}, day.getTime());
				const tz = await agent.$eval('#scheduled_timezone', (e) => e.value);
				if (tz !== 'America/New_York') throw new Error(`timezone "${tz}" not selectable`);
				await shot(agent, 'f5-dialog');
			});
			await expectState(agent, 'scheduled');
			const node = (await statusNodes(agent)).find((n) => n.label.startsWith(label.scheduled));
			if (!node.label.includes(`(${mdy} - `)) throw new Error(`scheduled node reads "${node.label}", want the date ${mdy}`);
			log(`  scheduled node: "${node.label}"`);
		});

		await step(() => agent, 'f6', `agent: Update Status → completed ("${label.completed}")`, async () => {
			await updateStatus(agent, 'completed');
			await expectState(agent, 'completed');
			if (await agent.$('#update_status')) throw new Error('"Update Status" still offered on a completed request');
		});

		// g. The customer sees it completed.
		await step(() => customer, 'g', 'customer: the request is under Completed', async () => {
			await customer.bringToFront();
			await markStale(customer, '#port_app_container #ports_listing_wrapper');
			await click(customer, '#port_detail_view #back');
			await waitListing(customer);
			const completed = await openTab(customer, 'completed');
			const row = completed.find((r) => r.id === requestId);
			if (!row) throw new Error(`Completed lists ${JSON.stringify(completed)}`);
			if (row.status !== label.completed) throw new Error(`state "${row.status}", want "${label.completed}"`);
			if (row.carrier !== 'Walk Winning Carrier') throw new Error(`winning carrier "${row.carrier}", want "Walk Winning Carrier"`);
			const progressing = await openTab(customer, 'progressing');
			if (progressing.some((r) => r.id === requestId)) throw new Error('still listed under Progressing');
			await openTab(customer, 'completed');
		});
	} catch (e) {
		if (!/^step \w+ failed$/.test(e.message)) {
			failed = true;
			log(`walk aborted: ${e.stack || e}`);
		}
	} finally {
		await browser.close().catch(() => {});
	}
	const passed = results.filter((r) => r.ok).length;
	log(`walk finished: ${passed} of ${results.length} steps passed`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
