using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Admin;
using Segmentation.Service.Hosting;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Tests.Admin;

/// <summary>
/// The admin API over real HTTP on loopback (Kestrel, real PostgreSQL and RabbitMQ behind it), as the operator who holds
/// the key <c>alice</c>; the access rules for other addresses are the <see cref="AdminAccess.Decide"/> cases below.
/// </summary>
public sealed class AdminApiTests(IsolatedServers servers) : IClassFixture<IsolatedServers>, IAsyncLifetime
{
    private const string Key = "test-admin-key-of-alice";
    private const string BodyLimit = "65536";
    private const long PairBudget = 5_000;
    private LoopbackWebApp _web = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _web = await LoopbackWebApp.Start(
            new Dictionary<string, string?>
            {
                ["Admin:Keys:alice"] = Key,
                ["Admin:Keys:bob"] = "test-admin-key-of-bob",
                ["Admin:OpenLoopbackReads"] = "true",
                ["Admin:MaxRequestBodyBytes"] = BodyLimit,
            },
            builder =>
            {
                builder.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero)));
                builder.Services.AddSegmentationService(
                    new SegmentationSettings(servers.RabbitMqUrl, servers.PostgresConnection, servers.SchemaName)
                    {
                        RulesetPath = ExampleRuleset.Path,
                        // The clock here is fake, so the time limit never runs out: the work budget bounds the analysis.
                        ConflictAnalysisMaxPairs = PairBudget,
                    },
                    builder.Configuration);
            },
            app => app.MapAdminApi());
        // Published events reach the service only once its queues are bound.
        await _web.App.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        _http = _web.Http;
    }

    public async Task DisposeAsync() => await _web.DisposeAsync();

    [Fact]
    public async Task Writes_without_a_key_are_refused_even_from_loopback_and_reads_are_open_there()
    {
        var upload = await _http.PostAsync(new Uri("/rulesets", UriKind.Relative), Yaml("segments: {}"));
        Assert.Equal(HttpStatusCode.Unauthorized, upload.StatusCode);
        Assert.Equal("changes need an admin key in X-Api-Key", (await Json(upload)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.PostAsync(new Uri("/rulesets/r-x/activate", UriKind.Relative), null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri("/rulesets/active", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task A_wrong_key_is_refused_for_reads_and_writes()
    {
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Post })
        {
            using var request = new HttpRequestMessage(method, new Uri("/rulesets", UriKind.Relative)) { Content = Yaml("segments: {}") };
            request.Headers.Add(AdminAccess.ApiKeyHeader, Key + "x");
            var response = await _http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("the key presented in X-Api-Key is not a configured admin key", (await Json(response)).GetProperty("error").GetString());
        }
    }

    [Fact]
    public async Task With_the_key_a_ruleset_is_uploaded_checked_for_conflicts_simulated_and_activated()
    {
        var candidate = await File.ReadAllTextAsync(ExampleRuleset.Path.Replace("ruleset.yaml", "ruleset-candidate.yaml", StringComparison.Ordinal));

        var conflicts = await Json(await Send(HttpMethod.Post, "/rulesets/conflicts", candidate));
        Assert.Contains(conflicts.GetProperty("findings").EnumerateArray(), f => f.GetProperty("kind").GetString() == "conflict");

        var simulation = await Send(HttpMethod.Post, "/rulesets/simulate", candidate);
        Assert.Equal(HttpStatusCode.OK, simulation.StatusCode);

        var uploaded = await Json(await Send(HttpMethod.Post, "/rulesets?fileName=candidate.yaml", candidate));
        var version = uploaded.GetProperty("version").GetString()!;
        // A header cannot claim another name: the operator is the key's.
        var activated = await Send(HttpMethod.Post, $"/rulesets/{version}/activate", null, ("X-Operator", "mallory"));
        Assert.Equal(HttpStatusCode.OK, activated.StatusCode);

        var active = await Json(await Send(HttpMethod.Get, "/rulesets/active", null));
        Assert.Equal(version, active.GetProperty("inUse").GetString());
        Assert.Equal("alice", active.GetProperty("activation").GetProperty("activatedBy").GetString());
        var versions = await Json(await Send(HttpMethod.Get, "/rulesets", null));
        Assert.Contains(versions.EnumerateArray(), v => v.GetProperty("version").GetString() == version && v.GetProperty("uploadedBy").GetString() == "alice");
    }

    [Fact]
    public async Task A_ruleset_with_errors_is_refused_with_line_and_column()
    {
        var response = await Send(HttpMethod.Post, "/rulesets?fileName=bad.yaml", "segments:\n  s:\n    when: count(Purchased, 30d) >=\n");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var error = (await Json(response)).GetProperty("errors")[0].GetString();
        Assert.StartsWith("bad.yaml:3:", error, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> HostileConditions => new()
    {
        { "2,000 parentheses in 4 KB", new string('(', 2_000) + "count(Purchased) > 1" + new string(')', 2_000), "expression nested too deeply" },
        { "a + chain of 5,000 terms", string.Join(" + ", Enumerable.Repeat("1", 5_000)) + " > 3", "expression too long" },
        { "5,000 nots", string.Concat(Enumerable.Repeat("not ", 5_000)) + "email_opt_in", "expression nested too deeply" },
    };

    [Theory]
    [MemberData(nameof(HostileConditions))]
    public async Task A_hostile_condition_is_refused_with_its_position_by_every_ruleset_endpoint(string shape, string condition, string message)
    {
        var yaml = $"attributes:\n  email_opt_in: bool\nsegments:\n  s:\n    when: '{condition}'\n";
        foreach (var path in new[] { "/rulesets?fileName=hostile.yaml", "/rulesets/conflicts?fileName=hostile.yaml", "/rulesets/simulate?fileName=hostile.yaml" })
        {
            var response = await Send(HttpMethod.Post, path, yaml);
            Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"{shape} on {path}: {response.StatusCode}");
            var error = (await Json(response)).GetProperty("errors")[0].GetString()!;
            Assert.Matches($@"^hostile\.yaml:5:\d+: {message}", error);
        }

        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri("/rulesets/active", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task A_condition_at_the_depth_limit_is_accepted_over_http()
    {
        var depth = Segmentation.Rules.Language.RuleLimits.MaxExpressionDepth;
        var condition = new string('(', depth - 1) + "count(Purchased) > 1" + new string(')', depth - 1);
        var response = await Send(HttpMethod.Post, "/rulesets?fileName=deep.yaml", $"segments:\n  s:\n    when: '{condition}'\n");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_a_413_with_the_limit_whether_its_length_is_declared_or_streamed()
    {
        var body = "segments:\n" + string.Concat(Enumerable.Range(0, 4_000).Select(i => $"  s{i}:\n    when: count(Purchased) > {i}\n"));
        Assert.True(body.Length > int.Parse(BodyLimit, System.Globalization.CultureInfo.InvariantCulture));

        var declared = await Send(HttpMethod.Post, "/rulesets", body);
        using var streamed = new HttpRequestMessage(HttpMethod.Post, new Uri("/rulesets", UriKind.Relative))
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body))),
        };
        streamed.Headers.TransferEncodingChunked = true;
        streamed.Headers.Add(AdminAccess.ApiKeyHeader, Key);
        foreach (var response in new[] { declared, await _http.SendAsync(streamed) })
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Equal($"request body too large: at most {BodyLimit} bytes (Admin:MaxRequestBodyBytes)",
                (await Json(response)).GetProperty("error").GetString());
        }
    }

    [Fact]
    public async Task A_large_exclusive_group_is_answered_within_the_budget_and_a_reject_group_left_unfinished_is_refused()
    {
        // 200 segments in one group: 19,900 pairs, four times the budget.
        string Group(string policy) => $"groups:\n  contact: {{ exclusive: true, on_conflict: {policy} }}\nsegments:\n"
            + string.Concat(Enumerable.Range(0, 200).Select(i => $"  s{i}:\n    group: contact\n    priority: {i}\n    when: count(Purchased, {i + 1}d) >= {i % 7}\n"));

        var report = await Json(await Send(HttpMethod.Post, "/rulesets/conflicts", Group("priority")));
        var findings = report.GetProperty("findings").EnumerateArray().ToList();
        var unknown = findings.Count(f => f.GetProperty("description").GetString() == "unknown: budget exceeded");
        Assert.True(report.GetProperty("budgetExceeded").GetBoolean());
        Assert.Equal(19_900 - PairBudget, report.GetProperty("unanalysedPairs").GetInt64());
        Assert.Equal(19_900 - PairBudget, unknown);

        var refused = await Send(HttpMethod.Post, "/rulesets?fileName=big.yaml", Group("reject"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains((await Json(refused)).GetProperty("errors").EnumerateArray(),
            e => e.GetString()!.Contains("group contact rejects conflicts, but its analysis ran out of its budget", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Explain_shows_every_condition_now_with_holder_blocks_and_next_change_and_segctl_prints_it()
    {
        var now = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        var customer = $"explained-{Guid.NewGuid():N}";
        await using (var upstream = await UpstreamPublisher.Connect(servers))
        {
            // In either order: the purchase makes big_spender and win_back qualify, and big_spender wins the slot.
            await upstream.Publish(new OrderPurchased(Guid.NewGuid(), customer, now.AddDays(-70), "o-1", 600m, "EUR"));
            await upstream.Publish(new CustomerSignedUp(Guid.NewGuid(), customer, now.AddDays(-5)));
        }

        var explained = await Eventually.Get(
            async () => await Json(await Send(HttpMethod.Get, $"/customers/{customer}/explain", null)),
            e => e.TryGetProperty("segments", out var segments) && Segment(segments, "big_spender").GetProperty("heldSince").ValueKind != JsonValueKind.Null
                && Segment(segments, "win_back").GetProperty("blocked").ValueKind != JsonValueKind.Null
                && Segment(segments, "welcome_day_3").GetProperty("explanation").GetProperty("condition").ToString().Contains("2026-11-19", StringComparison.Ordinal),
            "big_spender held, win_back blocked, the signup recorded");
        var segments = explained.GetProperty("segments");
        Assert.Equal(5, segments.GetArrayLength());
        var bigSpender = Segment(segments, "big_spender");
        Assert.True(bigSpender.GetProperty("explanation").GetProperty("conditionHolds").GetBoolean());
        // The purchase leaves the 90-day window 90 days after it happened.
        Assert.Equal(now.AddDays(20), bigSpender.GetProperty("nextChangeAt").GetDateTimeOffset());
        Assert.Equal("big_spender", Segment(segments, "win_back").GetProperty("blocked").GetProperty("heldBy").GetString());
        // welcome_day_3 fails on the one condition that is not met: no opt-in was ever given.
        var welcome = Segment(segments, "welcome_day_3").GetProperty("explanation");
        Assert.Equal((false, "out"), (welcome.GetProperty("conditionHolds").GetBoolean(), welcome.GetProperty("outcome").GetString()));
        var optIn = welcome.GetProperty("condition").GetProperty("parts")[1];
        Assert.Equal(("email_opt_in", "null"), (optIn.GetProperty("expression").GetString(), optIn.GetProperty("value").GetString()));
        var vip = Segment(segments, "vip").GetProperty("explanation");
        Assert.False(vip.GetProperty("conditionHolds").GetBoolean());
        var sum = vip.GetProperty("condition").GetProperty("parts")[0].GetProperty("parts")[0];
        Assert.Equal(("sum(Purchased.amount, 365d)", "600"), (sum.GetProperty("expression").GetString(), sum.GetProperty("value").GetString()));

        var one = await Json(await Send(HttpMethod.Get, $"/customers/{customer}/explain?segment=vip", null));
        Assert.Equal("vip", Assert.Single(one.GetProperty("segments").EnumerateArray()).GetProperty("explanation").GetProperty("segment").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, $"/customers/{customer}/explain?segment=nope", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, "/customers/nobody/explain", null)).StatusCode);

        var output = new StringWriter();
        var exit = await Segmentation.Cli.Commands.SegctlCommand.Create()
            .Parse(["explain", customer, "--service", _http.BaseAddress!.ToString(), "--api-key", Key])
            .InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = output });
        Assert.True(exit == 0, output.ToString());
        Assert.Contains("big_spender [contact]: in (since", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("    sum(Purchased.amount, 365d)  =>  600", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("win_back [contact]: blocked: held by big_spender", output.ToString(), StringComparison.Ordinal);

        // The totals come from the event log through Marten's queries: this customer's events and entry are in them.
        var stats = await Json(await Send(HttpMethod.Get, "/stats", null));
        Assert.True(stats.GetProperty("customers").GetInt64() >= 1 && stats.GetProperty("events").GetInt64() >= 2, stats.ToString());
        Assert.Contains(stats.GetProperty("segments").EnumerateArray(),
            s => s.GetProperty("segment").GetString() == "big_spender" && s.GetProperty("entered").GetInt64() >= 1);
    }

    private static JsonElement Segment(JsonElement segments, string name) =>
        segments.EnumerateArray().Single(s => s.GetProperty("explanation").GetProperty("segment").GetString() == name);

    [Fact]
    public async Task An_unknown_customer_is_a_404_with_a_message()
    {
        var response = await Send(HttpMethod.Get, "/customers/nobody", null);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("no customer 'nobody'", (await Json(response)).GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("GET", "127.0.0.1", null, true, true, null)]
    [InlineData("HEAD", "::1", null, true, true, null)]
    [InlineData("GET", "127.0.0.1", null, false, false, null)]
    [InlineData("GET", "10.0.0.5", null, true, false, null)]
    [InlineData("POST", "127.0.0.1", null, true, false, null)]
    [InlineData("DELETE", "127.0.0.1", null, true, false, null)]
    [InlineData("POST", "10.0.0.5", "secret-a", false, true, "a")]
    [InlineData("GET", "10.0.0.5", "secret-b", false, true, "b")]
    [InlineData("POST", "127.0.0.1", "secret-b", false, true, "b")]
    [InlineData("GET", "127.0.0.1", "secret-a ", true, false, null)]
    [InlineData("POST", "10.0.0.5", "", false, false, null)]
    public void Access_rules(string method, string remote, string? presented, bool openLoopbackReads, bool allowed, string? operatorName)
    {
        var access = new AdminAccess(new Dictionary<string, string> { ["a"] = "secret-a", ["b"] = "secret-b" }, openLoopbackReads);
        var decision = access.Decide(method, IPAddress.Parse(remote), presented);
        Assert.Equal((allowed, operatorName), (decision.Allowed, decision.Operator));
        Assert.Equal(allowed, decision.Refusal is null);
    }

    [Fact]
    public void Without_configured_keys_no_write_is_possible()
    {
        var access = new AdminAccess(new Dictionary<string, string> { ["empty"] = "" }, openLoopbackReads: true);
        var decision = access.Decide("POST", IPAddress.Loopback, "");
        Assert.False(decision.Allowed);
        Assert.Contains("none configured", decision.Refusal, StringComparison.Ordinal);
        Assert.Null(access.KeyName(""));
    }

    private async Task<HttpResponseMessage> Send(HttpMethod method, string path, string? yaml, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = yaml is null ? null : Yaml(yaml) };
        request.Headers.Add(AdminAccess.ApiKeyHeader, Key);
        foreach (var (name, value) in headers) request.Headers.Add(name, value);
        return await _http.SendAsync(request);
    }

    private static StringContent Yaml(string yaml) => new(yaml, Encoding.UTF8, "application/yaml");

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>();
}
