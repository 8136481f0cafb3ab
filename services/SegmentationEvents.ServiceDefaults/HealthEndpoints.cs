using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace SegmentationEvents.ServiceDefaults;

/// <summary>
/// The ASP.NET Core health checks of every service: <c>/health/live</c> answers while the process runs (no check);
/// <c>/health/ready</c> runs the checks tagged <see cref="ReadyTag"/> (PostgreSQL reachable, bus connected, and what
/// else a service adds) and answers 503 when one fails. Both write each check's status and description as JSON.
/// </summary>
public static class HealthEndpoints
{
    public const string ReadyTag = "ready";

    public const string LivePath = "/health/live";

    public const string ReadyPath = "/health/ready";

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteJson });
        app.MapHealthChecks(ReadyPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteJson,
            // MassTransit reports a bus whose endpoints stopped on a lost broker connection as Degraded, which ASP.NET Core
            // answers with 200 by default: an instance that consumes nothing is not ready.
            ResultStatusCodes = { [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable },
        });
        return app;
    }

    /// <summary>Adds a readiness check that PostgreSQL answers <c>SELECT 1</c> on the data source <paramref name="dataSource"/> gives.</summary>
    public static IHealthChecksBuilder AddPostgresReadiness(this IHealthChecksBuilder checks, Func<IServiceProvider, NpgsqlDataSource> dataSource) =>
        checks.Add(new HealthCheckRegistration("postgres", sp => new PostgresHealthCheck(dataSource(sp)), HealthStatus.Unhealthy, [ReadyTag]));

    private static Task WriteJson(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new { name = e.Key, status = e.Value.Status.ToString(), description = e.Value.Description ?? e.Value.Exception?.Message }),
        }));
    }

    private sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var command = dataSource.CreateCommand("SELECT 1");
                await command.ExecuteScalarAsync(cancellationToken);
                return HealthCheckResult.Healthy("PostgreSQL answers");
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                return HealthCheckResult.Unhealthy($"PostgreSQL does not answer: {e.Message}", e);
            }
        }
    }
}
