using MassTransit;
using Microsoft.Extensions.Configuration;

namespace SegmentationEvents.ServiceDefaults;

public static class MassTransitDefaults
{
    /// <summary>
    /// What every service's bus shares: the bus health check is part of readiness (<see cref="HealthEndpoints.ReadyTag"/>),
    /// and MassTransit, which reports usage to its vendor's host unless told not to, stays off the network beyond the
    /// broker unless <c>MassTransit:UsageTelemetry</c> is true.
    /// </summary>
    public static void ApplyServiceDefaults(this IBusRegistrationConfigurator bus, IConfiguration configuration)
    {
        bus.ConfigureHealthCheckOptions(health =>
        {
            health.Name = "bus";
            health.Tags.Add(HealthEndpoints.ReadyTag);
        });
        if (!configuration.GetValue("MassTransit:UsageTelemetry", false))
        {
            bus.DisableUsageTelemetry();
        }
    }
}
