using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marten;
using Microsoft.Playwright;
using Segmentation.Service.Membership;
using SegmentationEvents.ServiceDefaults;
using static Microsoft.Playwright.Assertions;

namespace Segmentation.Service.Tests.OperatorConsole;

/// <summary>
/// The console's read-only pages in a real browser, and the JSON endpoints they read, after the example history was
/// published into the live service. Reads come from loopback without a key (<c>Admin:OpenLoopbackReads</c>).
/// </summary>
public sealed class ConsolePagesTests(ConsoleFixture console) : IClassFixture<ConsoleFixture>
{
    [Fact]
    public async Task The_overview_endpoint_counts_holders_and_entries_and_exits_per_day_as_the_log_holds_them()
    {
        var overview = await console.Web.Http.GetFromJsonAsync<JsonElement>("/overview");

        var today = DateOnly.FromDateTime(console.HistoryEnd.UtcDateTime);
        await using var session = console.Store.QuerySession();
        var entered = await session.Events.QueryRawEventDataOnly<CustomerEnteredSegment>().ToListAsync();
        var exited = await session.Events.QueryRawEventDataOnly<CustomerExitedSegment>().ToListAsync();
        var holders = ConsoleFixture.HoldersByProfile(await console.Profiles());
        Assert.Equal("configuration", overview.GetProperty("ruleset").GetProperty("activatedBy").GetString());
        foreach (var segment in overview.GetProperty("segments").EnumerateArray())
        {
            var name = segment.GetProperty("segment").GetString()!;
            Assert.Equal(holders.GetValueOrDefault(name), segment.GetProperty("holders").GetInt32());
            var days = segment.GetProperty("days").EnumerateArray().ToList();
            Assert.Equal(30, days.Count);
            Assert.Equal(today, DateOnly.Parse(days[^1].GetProperty("day").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
            foreach (var day in days)
            {
                var date = DateOnly.Parse(day.GetProperty("day").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(entered.Count(e => e.Segment == name && DateOnly.FromDateTime(e.At.UtcDateTime) == date), day.GetProperty("entries").GetInt32());
                Assert.Equal(exited.Count(e => e.Segment == name && DateOnly.FromDateTime(e.At.UtcDateTime) == date), day.GetProperty("exits").GetInt32());
            }
        }

        Assert.Contains(overview.GetProperty("segments").EnumerateArray(), s => s.GetProperty("days").EnumerateArray().Any(d => d.GetProperty("entries").GetInt32() > 0));
        var welcome = overview.GetProperty("segments").EnumerateArray().Single(s => s.GetProperty("segment").GetString() == "welcome_day_3");
        Assert.Contains(welcome.GetProperty("blocked").EnumerateArray(), b => b.GetProperty("reason").GetString() == "held by big_spender");
        Assert.All(overview.GetProperty("errorQueues").GetProperty("queues").EnumerateArray(), q => Assert.Equal(0, q.GetProperty("messages").GetInt32()));
        var reevaluation = overview.GetProperty("reevaluation");
        Assert.Equal(0, reevaluation.GetProperty("remaining").GetInt32());
        Assert.Equal(overview.GetProperty("ruleset").GetProperty("version").GetString(), reevaluation.GetProperty("version").GetString());
    }

    [Fact]
    public async Task A_stored_ruleset_is_served_with_its_yaml_and_a_customers_recent_events_newest_first()
    {
        var active = await console.Web.Http.GetFromJsonAsync<JsonElement>("/rulesets/active");
        var version = active.GetProperty("inUse").GetString()!;
        var stored = await console.Web.Http.GetFromJsonAsync<JsonElement>($"/rulesets/{version}");
        Assert.Equal(await File.ReadAllTextAsync(Infrastructure.ExampleRuleset.Path), stored.GetProperty("yaml").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await console.Web.Http.GetAsync(new Uri("/rulesets/r-nothing", UriKind.Relative))).StatusCode);

        var events = (await console.Web.Http.GetFromJsonAsync<JsonElement>("/customers/c5/events?take=3")).EnumerateArray().ToList();
        Assert.Equal(3, events.Count);
        var versions = events.Select(e => e.GetProperty("version").GetInt64()).ToList();
        Assert.Equal(versions.OrderDescending(), versions);
        var all = (await console.Web.Http.GetFromJsonAsync<JsonElement>("/customers/c5/events")).EnumerateArray().ToList();
        Assert.Contains(all, e => e.GetProperty("kind").GetString() == "Purchased" && e.GetProperty("summary").GetString()!.Contains("amount=1500", StringComparison.Ordinal));
        Assert.Contains(all, e => e.GetProperty("kind").GetString() == "entered" && e.GetProperty("summary").GetString()!.StartsWith("big_spender", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, (await console.Web.Http.GetAsync(new Uri("/customers/nobody/events", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task A_replay_of_the_last_days_needs_the_key_and_replays_the_log_up_to_now()
    {
        var candidate = await File.ReadAllTextAsync(Infrastructure.ExampleRuleset.Path.Replace("ruleset.yaml", "ruleset-candidate.yaml", StringComparison.Ordinal));
        var refused = await console.Web.Http.PostAsync(new Uri("/rulesets/simulate?days=30", UriKind.Relative), new StringContent(candidate));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/rulesets/simulate?days=30", UriKind.Relative)) { Content = new StringContent(candidate) };
        request.Headers.Add(AdminAccess.ApiKeyHeader, ConsoleFixture.Key);
        var report = await (await console.Web.Http.SendAsync(request)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("replay", report.GetProperty("scope").GetString());
        Assert.Equal(5, report.GetProperty("customers").GetInt32());
        Assert.Equal(console.HistoryEnd, report.GetProperty("to").GetDateTimeOffset());
        Assert.Equal(console.HistoryEnd.AddDays(-30), report.GetProperty("from").GetDateTimeOffset());
    }

    [Fact]
    public async Task The_console_is_served_at_the_root_without_a_key_and_allows_only_its_own_scripts()
    {
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
        {
            using var response = await console.Web.Http.SendAsync(new HttpRequestMessage(method, new Uri("/", UriKind.Relative)));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        }

        using var script = await console.Web.Http.GetAsync(new Uri("/chart.js", UriKind.Relative));
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_overview_page_shows_the_active_version_who_activated_it_and_a_chart_per_segment()
    {
        var page = await console.Open("/");
        var version = (await console.Web.Http.GetFromJsonAsync<JsonElement>("/rulesets/active")).GetProperty("inUse").GetString()!;
        await Expect(page.Locator("#active-version")).ToHaveTextAsync(version);
        await Expect(page.Locator("#activated-by")).ToHaveTextAsync("configuration");
        await Expect(page.Locator("#reevaluation")).ToHaveTextAsync($"done: every customer is evaluated with {version}");
        var holders = ConsoleFixture.HoldersByProfile(await console.Profiles());
        foreach (var (segment, count) in holders)
            await Expect(page.Locator($"#segments tr[data-segment='{segment}'] td").Nth(2)).ToHaveTextAsync(count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(page.Locator("#segments tr[data-segment='welcome_day_3']")).ToContainTextAsync("held by big_spender: 1");
        await Expect(page.Locator("#segment-charts svg.chart")).ToHaveCountAsync(5);
        await Expect(page.Locator("#relay-behind")).ToContainTextAsync("0 behind");
        await Expect(page.Locator("#relay-lag")).ToContainTextAsync(new Regex(@"^\d+(\.\d)? (ms|s) \(at "));
        await ConsoleFixture.Screenshot(page, "overview");

        var phone = await console.Open("/", width: 390, height: 844);
        await Expect(phone.Locator("#segment-charts svg.chart")).ToHaveCountAsync(5);
        Assert.False(await ScrollsSideways(phone), "the overview scrolls sideways on a phone");
        await ConsoleFixture.Screenshot(phone, "overview-phone");
        console.AssertNoScriptErrors();
    }

    [Fact]
    public async Task A_wrong_key_typed_into_the_page_is_refused_visibly_and_the_right_one_is_taken()
    {
        var page = await console.Open("/");
        await Expect(page.Locator("#active-version")).Not.ToBeEmptyAsync();
        await page.FillAsync("#admin-key", "not-a-key");
        await page.PressAsync("#admin-key", "Enter");
        await Expect(page.Locator("#error")).ToContainTextAsync("GET /overview: 401 the key presented in X-Api-Key is not a configured admin key");
        await Expect(page.Locator("#error")).ToContainTextAsync("Enter an admin key at the top of the page.");
        await Expect(page.Locator("#error")).ToBeFocusedAsync();

        await ConsoleFixture.EnterKey(page);
        await Expect(page.Locator("#error")).ToBeEmptyAsync();
    }

    [Fact]
    public async Task When_the_service_answers_that_its_database_is_down_the_overview_says_so()
    {
        var context = await console.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = console.Web.Http.BaseAddress!.ToString() });
        var page = await context.NewPageAsync();
        // The answer the admin API gives without PostgreSQL (DatabaseUnavailableTests), in place of the live one.
        await page.RouteAsync("**/overview", route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 503, ContentType = "application/json",
            Body = """{"error":"the service's database does not answer: Failed to connect to 127.0.0.1:5432"}""",
        }));
        await page.GotoAsync("/");
        await Expect(page.Locator("#error")).ToHaveTextAsync("GET /overview: 503 the service's database does not answer: Failed to connect to 127.0.0.1:5432");
        await Expect(page.Locator("#updated")).ToContainTextAsync("could not load the overview");
    }

    [Fact]
    public async Task The_customer_page_explains_each_segment_with_the_failing_condition_and_its_value()
    {
        var page = await console.Open("/customer.html");
        await page.FocusAsync("#customer-id");
        await page.Keyboard.TypeAsync("c1");
        await page.Keyboard.PressAsync("Enter");

        await Expect(page.Locator("#held")).ToContainTextAsync("welcome_day_3");
        await Expect(page.Locator("#attributes")).ToContainTextAsync("NL");
        await Expect(page.Locator("#recent-events")).ToContainTextAsync("Newsletter");
        var vip = page.Locator(".explanation[data-segment='vip']");
        await Expect(vip).ToContainTextAsync("condition fails");
        await Expect(vip.Locator(".failed-conditions")).ToContainTextAsync("sum(Purchased.amount, 365d) >= 2000 is false: sum(Purchased.amount, 365d) = 0");
        await Expect(vip.Locator(".failed-conditions")).ToContainTextAsync("plan == \"team\" is false: plan = \"free\"");
        await ConsoleFixture.Screenshot(page, "customer");

        var phone = await console.Open("/customer.html?id=c1", width: 390, height: 844);
        await Expect(phone.Locator(".explanation[data-segment='vip'] .failed-conditions")).ToBeVisibleAsync();
        Assert.False(await ScrollsSideways(phone), "the customer page scrolls sideways on a phone");
        await ConsoleFixture.Screenshot(phone, "customer-phone");

        await page.FillAsync("#customer-id", "nobody");
        await page.PressAsync("#customer-id", "Enter");
        await Expect(page.Locator("#error")).ToContainTextAsync("404 no customer 'nobody'");
        await Expect(page.Locator("#profile")).ToBeEmptyAsync();
        console.AssertNoScriptErrors();
    }

    /// <summary>Whether the page is wider than the screen (wide tables scroll inside their own box instead).</summary>
    internal static Task<bool> ScrollsSideways(IPage page) => page.EvaluateAsync<bool>("document.documentElement.scrollWidth > window.innerWidth");
}
